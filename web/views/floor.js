// The floor banner (the page's anchor: who has the floor, always in the same place,
// with elapsed time, countdown, "floor open" and the turn's reactions) and the
// "you're up" panel.

import { h, render, avatar, fmtDuration, onFrame } from '../dom.js';
import { REACTIONS } from '../labels.js';
import { icon } from '../icons.js';

export function floorView(store, actions) {
  const banner = document.getElementById('floor-banner');
  const upPanel = document.getElementById('youre-up');
  let timeEls = {};

  function holderBlock(f) {
    const id = f.state === 'held' ? f.holder : f.state === 'offered' ? f.offered_to : null;
    const p = id != null ? store.person(id) : null;
    const me = id === store.me?.id;
    let label;
    let name;
    switch (f.state) {
      case 'held': label = 'Has the floor'; name = me ? `${p?.name ?? ''} (you)` : store.nameOf(id); break;
      case 'offered': label = me ? "It's your turn" : 'Floor offered to'; name = me ? `${p?.name ?? ''} (you)` : store.nameOf(id); break;
      case 'discussion': label = 'Open discussion'; name = 'Everyone may speak'; break;
      default: label = 'Nobody has the floor'; name = 'Floor open';
    }
    const pic = p ? avatar(p, 'large') : h('span', { class: 'avatar large empty', 'aria-hidden': 'true' }, icon(f.state === 'discussion' ? 'discussion' : 'stick'));
    const ring = p?.speaking ? ' speaking' : '';
    return h('div', { class: `floor-who${ring}`, style: p ? { '--c': p.colour } : {} },
      pic,
      h('div', { class: 'floor-text' },
        h('span', { class: 'floor-label', id: 'floor-label' }, label),
        h('strong', { class: 'floor-name', id: 'floor-holder', 'data-holder': id ?? '' }, name)));
  }

  function tallyBlock(f) {
    if (f.state !== 'held') return null;
    const items = REACTIONS.map((r) => {
      const n = f.tally?.[r.kind] ?? 0;
      return h('li', { class: n ? 'has' : 'zero', title: r.label, data: { reaction: r.kind } },
        icon(r.icon), h('span', { class: 'sr-only' }, `${r.label}:`), ` ${n}`);
    });
    return h('ul', { class: 'tally', id: 'floor-tally', 'aria-label': 'Reactions this turn' }, items);
  }

  function draw() {
    const f = store.floor;
    if (!f) return;
    banner.dataset.state = f.state;
    banner.dataset.open = String(!!f.open);
    timeEls = {
      elapsed: h('span', { class: 'elapsed', id: 'floor-elapsed' }),
      countdown: h('span', { class: 'countdown', id: 'floor-countdown', hidden: true }),
      bar: h('span', { class: 'limit-bar', hidden: true }, h('span', { class: 'limit-fill' })),
    };
    const openBadge = f.state === 'held' && f.open
      ? h('span', { class: 'badge paused-badge', id: 'floor-paused', title: 'The speaker has paused; they still have the floor' }, icon('paused'), ' Paused')
      : f.state === 'discussion'
        ? h('span', { class: 'badge open-badge', id: 'floor-open' }, icon('floor-open'), ' Floor open')
        : null;
    const modeBadge = store.settings?.mode === 'moderated'
      ? h('span', { class: 'badge mode-badge', id: 'mode-badge', title: 'Only the person with the floor and facilitators are heard' }, icon('moderated'), ' Moderated')
      : h('span', { class: 'badge mode-badge open-mode', id: 'mode-badge', title: 'Everyone can be heard; the queue is advisory' }, 'Open mode');
    // The holder's private note: to them ("my point") and to facilitators, nobody else.
    const tn = f.state === 'held' && store.turnNote?.turn === f.turn ? store.turnNote : null;
    const mine = tn && tn.holder === store.me?.id;
    const turnNote = tn && (mine || store.isFacilitator)
      ? h('p', { class: 'turn-note', id: 'turn-note' }, h('span', { class: 'note-label' }, mine ? 'My point: ' : 'Their point: '), tn.note)
      : null;
    render(banner,
      holderBlock(f),
      turnNote,
      h('div', { class: 'floor-meta' },
        h('div', { class: 'floor-times' }, timeEls.elapsed, timeEls.countdown),
        timeEls.bar,
        h('div', { class: 'floor-badges' }, openBadge, modeBadge)),
      tallyBlock(f),
      h('div', { class: 'floor-actions' }));
    tick();
  }

  function drawOffer(fresh) {
    const mine = store.offeredToMe() && store.offerDeadline !== null;
    upPanel.hidden = !mine;
    document.body.classList.toggle('offered-me', mine);
    if (!mine) return;
    if (upPanel.dataset.drawn === 'yes') return;
    upPanel.dataset.drawn = 'yes';
    render(upPanel,
      h('div', { class: 'up-text' },
        h('h2', { id: 'youre-up-title' }, icon('stick'), " You're up!"),
        h('p', {}, 'The floor is yours when you accept. ', h('span', { id: 'offer-remaining', class: 'offer-remaining' }))),
      h('span', { class: 'offer-bar', 'aria-hidden': 'true' }, h('span', { class: 'offer-fill' })),
      h('div', { class: 'up-actions' },
        h('button', { type: 'button', class: 'primary big', id: 'accept-floor', 'data-focus-key': 'accept', on: { click: actions.accept } }, 'Accept — start speaking', h('kbd', {}, 'A')),
        h('button', { type: 'button', id: 'defer-floor', 'data-focus-key': 'defer', title: 'The next hand goes first; yours stays up, one place down', on: { click: actions.defer } }, 'Later — keep my hand', h('kbd', {}, 'Esc')),
        h('button', { type: 'button', id: 'decline-floor', 'data-focus-key': 'decline', on: { click: actions.decline } }, 'Pass — lower my hand')));
    if (!fresh) return;
    const a = document.activeElement;
    const typing = a && (a.tagName === 'INPUT' || a.tagName === 'TEXTAREA' || a.tagName === 'SELECT');
    if (!typing) document.getElementById('accept-floor').focus();
  }

  function clearOffer() {
    upPanel.dataset.drawn = '';
  }

  /** Updates the clocks; called a few times a second. */
  function tick() {
    const f = store.floor;
    if (!f || !timeEls.elapsed) return;
    const now = store.roomNow();
    const elapsed = now - f.since_ms;
    if (f.state === 'held') timeEls.elapsed.textContent = `Speaking for ${fmtDuration(elapsed)}`;
    else if (f.state === 'discussion') timeEls.elapsed.textContent = `Discussion for ${fmtDuration(elapsed)}`;
    else if (f.state === 'offered') timeEls.elapsed.textContent = `Waiting to accept · ${fmtDuration((f.offer_expires_ms ?? now) - now)} left`;
    else timeEls.elapsed.textContent = store.queue.length ? `${store.queue.length} hand${store.queue.length === 1 ? '' : 's'} waiting` : 'Raise your hand to speak';
    const limited = f.state === 'held' && f.ends_ms != null;
    timeEls.countdown.hidden = !limited;
    timeEls.bar.hidden = !limited;
    if (limited) {
      const left = f.ends_ms - now;
      const warnAt = store.settings?.warning_ms ?? 15000;
      timeEls.countdown.textContent = left > 0 ? `${fmtDuration(left)} left` : "Time's up";
      timeEls.countdown.classList.toggle('warn', left <= warnAt);
      timeEls.countdown.classList.toggle('over', left <= 0);
      const total = Math.max(1, f.ends_ms - f.since_ms);
      timeEls.bar.firstChild.style.width = `${Math.max(0, Math.min(100, (left / total) * 100))}%`;
    }
    if (!upPanel.hidden && store.offerDeadline !== null) {
      const left = store.offerDeadline - performance.now();
      const el = document.getElementById('offer-remaining');
      // One clock format on the page: m:ss, rounded up so that 0:00 means the end.
      if (el) el.textContent = `${fmtDuration(Math.ceil(Math.max(0, left) / 1000) * 1000)} left to accept.`;
      const fill = upPanel.querySelector('.offer-fill');
      const total = store.settings?.offer_timeout_ms || 10000;
      if (fill) fill.style.width = `${Math.max(0, Math.min(100, (left / total) * 100))}%`;
    }
  }

  // The banner is drawn once a frame, however many changes (a burst of reactions to the
  // tally, people's changes in a plenary) come in between.
  const drawSoon = onFrame(draw);
  store.on('floor', drawSoon);
  store.on('people', drawSoon);
  store.on('settings', drawSoon);
  store.on('queue', tick);
  store.on('offer', (d) => { clearOffer(); drawOffer(!!d?.fresh); tick(); });
  return { draw, tick };
}
