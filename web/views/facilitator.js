// Facilitator panel, in four tabs so that each fits a 1280×720 screen without
// scrolling: Floor (next, take back, open discussion, mute all, who is heard, the turn's
// reactions), Balance & report (views/stats.js), Time (limit, pauses) and Queue (order,
// offers). Each
// setting is sent as soon as it changes; the form always shows what the server confirmed.

import { h, render, onFrame } from '../dom.js';

const sec = (ms) => (ms == null ? '' : String(Math.round(ms / 100) / 10));
const ms = (s) => Math.round(Number(s) * 1000);

export function facilitatorView(store, actions) {
  const panel = document.getElementById('facilitator-panel');
  const floorBox = document.getElementById('fac-floor');
  let built = false;
  const f = {};

  function radio(name, value, label, hint) {
    const input = h('input', { type: 'radio', name, value, id: `set-${name}-${value}` });
    input.addEventListener('change', () => input.checked && send({ [name]: value }));
    f[`${name}:${value}`] = input;
    return h('label', { class: 'choice', for: input.id }, input, h('span', {}, h('strong', {}, label), hint ? h('small', {}, hint) : null));
  }

  function seconds(key, label, { min, max, step = 1, optional = false, optLabel } = {}) {
    const input = h('input', { type: 'number', id: `set-${key}`, min, max, step, inputmode: 'decimal', class: 'secs' });
    f[key] = input;
    let toggle = null;
    if (optional) {
      toggle = h('input', { type: 'checkbox', id: `set-${key}-on` });
      f[`${key}:on`] = toggle;
      toggle.addEventListener('change', () => {
        input.disabled = !toggle.checked;
        if (!toggle.checked) send({ [key]: null });
        else send({ [key]: ms(input.value || input.dataset.fallback) });
      });
    }
    input.addEventListener('change', () => {
      if (input.value === '' || Number.isNaN(Number(input.value))) { fill(); return; }
      send({ [key]: ms(input.value) });
    });
    return h('div', { class: 'field' },
      toggle ? h('label', { for: toggle.id, class: 'check-row' }, toggle, ` ${optLabel}`) : null,
      h('label', { for: input.id, class: toggle ? 'sub' : '' }, label),
      h('span', { class: 'secs-wrap' }, input, h('span', { 'aria-hidden': 'true' }, 's')));
  }

  /** How many replies in a row go before a waiting new point (first come only). */
  function replies() {
    const input = h('input', { type: 'number', id: 'set-max_replies', min: 0, max: 10, step: 1, inputmode: 'numeric', class: 'secs' });
    f.max_replies = input;
    input.addEventListener('change', () => {
      const n = Number(input.value);
      if (input.value === '' || !Number.isInteger(n)) { fill(); return; }
      send({ max_replies: n });
    });
    return h('div', { class: 'field' },
      h('label', { for: input.id }, 'Replies in a row before a new point (0 = replies wait too)'), input);
  }

  function send(patch) {
    actions.updateSettings(patch);
  }

  function build() {
    const autoOffer = h('input', { type: 'checkbox', id: 'set-auto_offer' });
    autoOffer.addEventListener('change', () => send({ auto_offer: autoOffer.checked }));
    f.auto_offer = autoOffer;
    // Who is heard changes often during a session: it sits with the floor controls.
    render(document.getElementById('fac-mode'),
      h('fieldset', { class: 'mode-set' }, h('legend', {}, 'Who is heard'),
        radio('mode', 'open', 'Open', 'everyone; the queue is a guide'),
        radio('mode', 'moderated', 'Moderated', 'only the floor holder and facilitators')));
    render(document.getElementById('settings-time'),
      h('fieldset', {}, h('legend', {}, 'Time limit'),
        seconds('time_limit_ms', 'Seconds per turn', { min: 5, max: 3600, optional: true, optLabel: 'Limit each turn' }),
        h('div', { class: 'field choices' }, h('span', { class: 'label' }, 'When time runs out'),
          radio('limit_action', 'soft', 'Warn', 'the speaker keeps the floor'),
          radio('limit_action', 'hard', 'End the turn', 'the floor passes on')),
        seconds('warning_ms', 'Warn this many seconds before the end (0 = no warning)', { min: 0, max: 600 })),
      h('fieldset', {}, h('legend', {}, 'Pauses'),
        seconds('pause_ms', 'Show the speaker as paused after this much silence', { min: 0.3, max: 60, step: 0.1 }),
        seconds('auto_advance_ms', 'Seconds of silence', { min: 1, max: 600, optional: true, optLabel: 'Hand over after a long silence' })));
    render(document.getElementById('settings-queue'),
      h('fieldset', {}, h('legend', {}, 'Queue order'),
        radio('policy', 'fifo', 'First come', 'replies to the speaker before new points'),
        radio('policy', 'balanced', 'Balanced', 'least talk time first'),
        replies()),
      h('fieldset', {}, h('legend', {}, 'Offers'),
        h('label', { class: 'check-row', for: autoOffer.id }, autoOffer, ' Offer the floor to the next hand automatically'),
        seconds('offer_timeout_ms', 'Seconds to accept "you\'re up"', { min: 1, max: 120 })));
    built = true;
  }

  /** Shows the confirmed settings, leaving alone a field someone is typing in. */
  function fill() {
    const s = store.settings;
    if (!s) return;
    if (!built) build();
    const active = document.activeElement;
    for (const name of ['mode', 'policy', 'limit_action']) {
      for (const [k, input] of Object.entries(f)) if (k.startsWith(`${name}:`)) input.checked = k === `${name}:${s[name]}`;
    }
    f.auto_offer.checked = s.auto_offer;
    if (f.max_replies !== active) f.max_replies.value = String(s.max_replies ?? 2);
    f.max_replies.disabled = s.policy !== 'fifo';
    for (const key of ['time_limit_ms', 'warning_ms', 'pause_ms', 'auto_advance_ms', 'offer_timeout_ms']) {
      const input = f[key];
      const on = f[`${key}:on`];
      if (on) {
        on.checked = s[key] != null;
        input.disabled = s[key] == null;
        input.dataset.fallback = key === 'time_limit_ms' ? '120' : String(Math.max(8, Math.ceil(s.pause_ms / 1000) + 4));
      }
      if (input !== active) input.value = s[key] == null ? (on ? input.dataset.fallback : '') : sec(s[key]);
    }
  }

  function drawFloor() {
    const fl = store.floor;
    if (!fl) return;
    const busy = fl.state === 'held' || fl.state === 'offered' || fl.state === 'discussion';
    render(floorBox,
      h('button', { type: 'button', class: 'primary', id: 'fac-next', 'data-focus-key': 'next', disabled: !store.queue.length && !busy, on: { click: actions.next } }, 'Next in queue', h('kbd', {}, 'N')),
      h('button', { type: 'button', id: 'fac-revoke', 'data-focus-key': 'revoke', disabled: !busy, on: { click: actions.revoke } }, fl.state === 'discussion' ? 'End discussion' : 'Take back the floor', h('kbd', {}, 'X')),
      h('button', { type: 'button', id: 'fac-discussion', 'data-focus-key': 'discussion', disabled: fl.state === 'discussion', on: { click: actions.openDiscussion } }, 'Open discussion', h('kbd', {}, 'O')),
      h('button', { type: 'button', id: 'fac-mute-all', 'data-focus-key': 'muteall', title: 'Everyone but the speaker', on: { click: actions.muteAll } }, 'Mute all learners', h('kbd', {}, 'Shift+M')),
      h('button', { type: 'button', id: 'fac-unmute-all', 'data-focus-key': 'unmuteall', on: { click: actions.unmuteAll } }, 'Unmute all'),
      h('button', { type: 'button', class: `danger${actions.confirming('end') ? ' confirming' : ''}`, id: 'fac-end-session', 'data-focus-key': 'end', title: 'Everyone leaves; the report keeps the session', on: { click: (e) => actions.endSession(e.currentTarget) } }, actions.confirming('end') ?? 'End session'));
  }

  // Tabs as the ARIA pattern has them: arrows move between tabs, one tab stop.
  const tabs = [...panel.querySelectorAll('[role="tab"]')];
  function select(tab, focus = false) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
    }
    panel.dispatchEvent(new CustomEvent('tabshown', { detail: tab.id }));
    if (focus) tab.focus();
  }
  for (const t of tabs) {
    t.addEventListener('click', () => select(t));
    t.addEventListener('keydown', (e) => {
      const shown = tabs.filter((x) => !x.hidden);
      const i = shown.indexOf(t);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: shown.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      select(shown[(to + shown.length) % shown.length], true);
    });
  }

  store.on('joined', () => {
    panel.hidden = !store.isFacilitator;
    document.body.classList.toggle('is-facilitator', store.isFacilitator);
    if (store.isFacilitator) { fill(); drawFloor(); }
  });
  store.on('settings', () => store.isFacilitator && fill());
  store.on('error', (e) => { if (e.code === 'invalid_setting') fill(); });
  const drawFloorSoon = onFrame(() => store.isFacilitator && drawFloor());
  store.on('floor', drawFloorSoon);
  store.on('queue', drawFloorSoon);
  return { fill, drawFloor, select: (name) => select(document.getElementById(`tab-${name}`)) };
}
