// The control bar: raise a hand (reply or new point, with an optional private note),
// lower it, "I'm done", reactions, microphone, push-to-talk, away, help and leave.
// Every button names its shortcut.

import { h, render, codePoints, touchScreen } from '../dom.js';
import { HAND_KINDS, REACTIONS } from '../labels.js';
import { icon } from '../icons.js';

export const NOTE_MAX = 280;

export function controlsView(store, actions, local) {
  const handBox = document.getElementById('hand-controls');
  const reactBox = document.getElementById('reaction-controls');
  const toggleBox = document.getElementById('toggle-controls');
  let handKey = '';

  const note = h('input', {
    type: 'text', id: 'note', class: 'note-input', autocomplete: 'off', 'data-focus-key': 'note',
    placeholder: 'My point (optional, private)', 'aria-describedby': 'note-help note-count',
  });
  const noteCount = h('span', { id: 'note-count', class: 'note-count', 'aria-live': 'off' }, `0/${NOTE_MAX}`);
  note.addEventListener('input', () => {
    const n = codePoints(note.value);
    noteCount.textContent = `${n}/${NOTE_MAX}`;
    noteCount.classList.toggle('over', n > NOTE_MAX);
    note.setAttribute('aria-invalid', String(n > NOTE_MAX));
  });
  note.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); raise(e.shiftKey ? 'reply' : 'new_point'); }
  });

  function raise(kind) {
    if (codePoints(note.value) > NOTE_MAX) {
      actions.problem(`Your note has ${codePoints(note.value)} characters; keep it to ${NOTE_MAX}.`);
      note.focus();
      return;
    }
    if (actions.raise(kind, note.value)) {
      note.value = '';
      note.dispatchEvent(new Event('input'));
    }
  }

  const kbd = (k) => h('kbd', {}, k);

  function drawHand() {
    const mine = store.myHand();
    const holding = store.iHoldFloor();
    const offered = !!mine && store.offeredToMe();
    const place = mine ? store.placeOf(mine.participant) : null;
    // Every queue change that moves "#k of n" redraws it, n included.
    const key = holding ? 'holding' : mine ? `raised-${offered ? 'offered' : `${place?.k}-${place?.n}`}-${mine.kind}-${store.myNote ?? ''}` : 'none';
    if (key === handKey) return;
    handKey = key;
    if (holding) {
      render(handBox,
        h('span', { class: 'hand-state' }, icon('stick'), ' You have the floor'),
        h('button', { type: 'button', class: 'primary', id: 'done', 'data-focus-key': 'done', on: { click: actions.done } }, "I'm done", kbd('D')));
    } else if (mine) {
      const kind = HAND_KINDS[mine.kind];
      render(handBox,
        h('span', { class: 'hand-state', id: 'my-hand' },
          icon(kind.icon), ' ',
          offered ? `You're up — the floor is offered to you · ${kind.label}` : `Your hand is up: #${place?.k} of ${place?.n} · ${kind.label}`,
          store.myNote ? h('span', { class: 'my-note', id: 'my-note' }, ` — “${store.myNote}”`) : null),
        h('button', { type: 'button', id: 'lower', 'data-focus-key': 'lower', on: { click: actions.lower } }, 'Lower hand', kbd('L')));
    } else {
      render(handBox,
        h('div', { class: 'note-wrap' },
          h('label', { for: 'note', class: 'sr-only' }, 'My point, optional: only you and the facilitator see it'),
          note,
          noteCount,
          h('span', { id: 'note-help', class: 'sr-only' }, 'Enter raises a new point, Shift+Enter a reply.')),
        h('button', { type: 'button', class: 'primary', id: 'raise-new', 'data-focus-key': 'raise-new', on: { click: () => raise('new_point') } },
          icon('hand'), ' New point', kbd('H')),
        h('button', { type: 'button', id: 'raise-reply', 'data-focus-key': 'raise-reply', title: 'Reply to the current speaker', on: { click: () => raise('reply') } },
          icon('reply'), ' Reply', kbd('R')));
    }
  }

  const reactButtons = REACTIONS.map((r) => h('button', {
    type: 'button', class: 'reaction', data: { reaction: r.kind }, title: `${r.label} (${r.key})`,
    'aria-label': `${r.label} (key ${r.key})`, 'aria-pressed': 'false', on: { click: () => actions.react(r.kind) },
  }, icon(r.icon, 'emoji'), h('span', { class: 'reaction-label' }, r.label), kbd(r.key)));
  render(reactBox, reactButtons);
  // During a turn a reaction counts once: pressed shows it counts, and a press takes it back.
  function drawReactions() {
    reactButtons.forEach((b, i) => {
      const on = store.reacted(REACTIONS[i].kind);
      b.setAttribute('aria-pressed', String(on));
      b.classList.toggle('on', on);
    });
  }
  store.on('reaction', drawReactions);
  store.on('floor', drawReactions);

  const micLevel = h('span', { class: 'mic-level', 'aria-hidden': 'true' }, h('span', {}));
  const micBtn = h('button', { type: 'button', id: 'mic-toggle', 'aria-pressed': 'false', on: { click: actions.toggleMic } });
  const pttBtn = h('button', { type: 'button', id: 'ptt-toggle', 'aria-pressed': 'false', on: { click: actions.togglePtt } });
  const awayBtn = h('button', { type: 'button', id: 'away-toggle', 'aria-pressed': 'false', on: { click: actions.toggleAway } });
  const pttHint = h('span', { class: 'ptt-hint', id: 'ptt-hint', hidden: true }, 'Hold Space to talk');
  const askBtn = h('button', { type: 'button', id: 'ask-unmute', hidden: true, on: { click: actions.askToUnmute } });
  // On a touch screen there is no Space bar to hold: a button to hold instead.
  const holdBtn = h('button', { type: 'button', id: 'hold-to-talk', hidden: true }, 'Hold to talk');
  let holding = false;
  const release = () => { if (holding) { holding = false; holdBtn.classList.remove('talking'); actions.talkUp(); } };
  holdBtn.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    try { holdBtn.setPointerCapture(e.pointerId); } catch { /* a pointer that cannot be captured still talks */ }
    holding = true;
    holdBtn.classList.add('talking');
    actions.talkDown();
  });
  for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) holdBtn.addEventListener(ev, release);
  holdBtn.addEventListener('contextmenu', (e) => e.preventDefault());
  render(toggleBox,
    micBtn, askBtn, holdBtn, pttBtn, pttHint, awayBtn,
    h('button', { type: 'button', id: 'help-button', 'aria-haspopup': 'dialog', on: { click: actions.help } }, icon('help'), ' Help', kbd('?')),
    h('button', { type: 'button', id: 'leave', class: 'danger', on: { click: actions.leave } }, 'Leave'));

  function drawToggles() {
    const me = store.self;
    if (!me) return;
    // Moderated mode forwards only the holder and facilitators (and everyone in a free
    // discussion): a microphone on outside those is not heard, and the button says so.
    const f = store.floor;
    const heard = store.settings?.mode !== 'moderated' || me.role === 'facilitator'
      || (f?.state === 'held' && f.holder === me.id) || f?.state === 'discussion';
    const micText = local.listenOnly ? 'Listen-only' : me.force_muted ? 'Muted by facilitator'
      : me.mic_on ? (heard ? 'Mic on' : 'Mic on — not heard in moderated mode') : 'Mic off';
    const micIcon = local.listenOnly ? 'headphones' : me.force_muted ? 'mic-blocked' : me.mic_on ? 'mic' : 'mic-off';
    render(micBtn, icon(micIcon), ` ${micText}`, me.mic_on ? micLevel : null, kbd('M'));
    micBtn.setAttribute('aria-pressed', String(!!me.mic_on));
    micBtn.classList.toggle('on', !!me.mic_on);
    micBtn.classList.toggle('unheard', !!me.mic_on && !heard && !me.force_muted);
    micBtn.classList.toggle('blocked', !!(local.listenOnly || me.force_muted));
    micBtn.title = local.listenOnly ? 'You joined without a microphone. Reload the page to set one up.' : '';
    // Muted by a facilitator: one click asks them (they see it on your tile).
    askBtn.hidden = !me.force_muted || local.listenOnly;
    askBtn.disabled = !!me.unmute_requested;
    render(askBtn, icon('asks-unmute'), ' ', me.unmute_requested ? 'Asked to unmute' : 'Ask to unmute');
    render(pttBtn, icon('ptt'), ' Push-to-talk', me.push_to_talk ? ' on' : ' off', kbd('P'));
    pttBtn.setAttribute('aria-pressed', String(!!me.push_to_talk));
    pttBtn.disabled = local.listenOnly;
    holdBtn.hidden = !me.push_to_talk || local.listenOnly || !touchScreen();
    pttHint.hidden = !me.push_to_talk || local.listenOnly || touchScreen();
    pttHint.classList.toggle('talking', !!(me.push_to_talk && me.mic_on));
    pttHint.textContent = me.push_to_talk && me.mic_on ? 'Talking… release Space to stop' : 'Hold Space to talk';
    const away = me.presence === 'away';
    render(awayBtn, icon(away ? 'away' : 'present'), away ? ' Away' : ' At my desk', kbd('W'));
    awayBtn.setAttribute('aria-pressed', String(away));
  }

  /** Moves the small level bar inside the mic button (called per animation frame). */
  function level(v) {
    micLevel.firstChild.style.width = `${Math.round(v * 100)}%`;
  }

  function setConnected(ok) {
    document.getElementById('controls').classList.toggle('offline', !ok);
  }

  store.on('queue', drawHand);
  // A hand that ended without a turn gives its note back, for the next time.
  store.on('noteBack', ({ note: text }) => {
    if (note.value.trim()) return;
    note.value = text;
    note.dispatchEvent(new Event('input'));
  });
  store.on('floor', drawHand);
  store.on('joined', () => { handKey = ''; drawHand(); drawToggles(); });
  store.on('people', (d) => { if (!d || d.updated === store.me?.id || d.joined === store.me?.id) drawToggles(); });
  // Whether the microphone is heard depends on the mode and the floor as well.
  store.on('floor', drawToggles);
  store.on('settings', drawToggles);
  return { raise, drawToggles, level, setConnected, focusNote: () => note.focus() };
}
