// The in-page help: what the room shows and every keyboard shortcut (generated from
// the shortcut registry, so it lists exactly what works for this person).

import { h, render, touchScreen } from '../dom.js';
import { icon } from '../icons.js';
import { REACTIONS } from '../labels.js';
import { activeShortcuts, keyLabel, setSingleKeyShortcuts, singleKeyShortcuts } from '../shortcuts.js';

export function helpView() {
  const dialog = document.getElementById('help');
  const body = document.getElementById('help-body');
  let opener = null;

  function draw() {
    const groups = new Map();
    for (const s of activeShortcuts()) {
      if (!groups.has(s.group)) groups.set(s.group, []);
      groups.get(s.group).push(s);
    }
    const toggle = h('input', { type: 'checkbox', id: 'single-key-shortcuts', checked: singleKeyShortcuts() });
    toggle.addEventListener('change', () => { setSingleKeyShortcuts(toggle.checked); draw(); document.getElementById('single-key-shortcuts')?.focus(); });
    render(body,
      h('label', { class: 'check-row', for: toggle.id }, toggle,
        ' Single-key shortcuts', h('small', {}, ' — turn off if you use speech input or press keys by accident (Esc still works; remembered in this browser)')),
      singleKeyShortcuts() ? null : h('p', { class: 'hint', id: 'shortcuts-off' }, 'Single-key shortcuts are off: use the buttons, or turn them on above.'),
      h('p', {}, 'The banner at the top always shows who has the floor. Raise your hand to join the queue: ',
        h('strong', {}, 'Reply'), ' answers the current speaker, ', h('strong', {}, 'New point'),
        ' brings something new. When it is your turn you will see “You\'re up” — accept to speak, and press “I\'m done” when you finish.'),
      h('p', {}, 'Reactions never interrupt: they show briefly on your tile and are counted for the speaker. Your note on a raised hand is private: only you and the facilitator see it.'),
      touchScreen() ? buttons() : [...groups].map(([group, list]) => h('section', {},
        h('h3', {}, group),
        h('dl', { class: 'keys' }, list.flatMap((s) => [h('dt', {}, h('kbd', {}, keyLabel(s))), h('dd', {}, s.label)])))),
      touchScreen()
        ? h('p', { class: 'hint' }, 'With push-to-talk on, hold “Hold to talk” while you speak.')
        : h('p', { class: 'hint' }, 'With push-to-talk on, hold Space to talk (buttons then take Enter instead of Space). Shortcuts are off while you type in a text box; press Esc to leave it.'));
  }

  /** On a touch screen: what each button does, instead of keys nobody has. */
  function buttons() {
    const rows = [
      [[icon('hand'), ' New point'], 'Raise your hand for something new'],
      [[icon('reply'), ' Reply'], 'Raise your hand to answer the speaker'],
      ['Lower hand', 'Take your hand down'],
      ['Accept', 'Take the floor when you are up'],
      ['Later — keep my hand', 'Let the next person go first; your hand stays up'],
      ["I'm done", 'Give the floor back'],
      [REACTIONS.map((r) => icon(r.icon)), `React without taking a turn: ${REACTIONS.map((r) => r.label.toLowerCase()).join(', ')} (tap again to take it back)`],
      ['Mic', 'Microphone on or off'],
      ['Push-to-talk', 'Then hold “Hold to talk” to speak'],
      ['At my desk / Away', 'Say you stepped away; your place is kept'],
    ];
    return h('section', { id: 'help-buttons' }, h('h3', {}, 'Buttons'),
      h('dl', { class: 'keys' }, rows.flatMap(([b, what]) => [h('dt', {}, b), h('dd', {}, what)])));
  }

  function open() {
    draw();
    opener = document.activeElement;
    if (!dialog.open) dialog.showModal();
    document.getElementById('help-close').focus();
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener('close', () => { if (opener?.isConnected) opener.focus(); });
  document.getElementById('help-close').addEventListener('click', close);
  dialog.addEventListener('click', (e) => { if (e.target === dialog) close(); });
  return { open, close, toggle: () => (dialog.open ? close() : open()), isOpen: () => dialog.open };
}
