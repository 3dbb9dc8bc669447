// The hand queue, in the server's order, the same positions for everyone. Your own
// note shows only to you (facilitators see every note). Facilitators can give the
// floor, move hands with buttons or drag-and-drop, remove one or clear all.

import { h, render, avatar, fmtDuration, keyedRender, onFrame } from '../dom.js';
import { HAND_KINDS } from '../labels.js';
import { icon } from '../icons.js';

/** More hands than this: one line each (a plenary's queue of twenty fits the screen). */
export const QUEUE_COMPACT_AT = 7;

export function queueView(store, actions) {
  const list = document.getElementById('queue');
  const empty = document.getElementById('queue-empty');
  const count = document.getElementById('queue-count');
  const tools = document.getElementById('queue-tools');
  let dragging = null;
  let redrawAfterDrag = false;

  function noteFor(hand) {
    if (hand.participant === store.me?.id) return store.myNote;
    return store.isFacilitator ? hand.note ?? null : null;
  }

  /** A hand's place now (its element is kept while only its place changes). */
  const positionOf = (hand) => store.handOf(hand.participant)?.position ?? hand.position;

  /** What changes as hands come and go: the place shown and which moves are possible. */
  function place(li, { hand, n }) {
    const k = String(store.placeOf(hand.participant)?.k ?? '');
    const last = n === store.queue.length - 1;
    const now = `${hand.position}/${k}/${n === 0}/${last}`;
    if (li.dataset.placed === now) return; // nothing moved: touch nothing
    li.dataset.placed = now;
    li.dataset.position = hand.position;
    const pos = li.querySelector('.pos:not(.offered)');
    if (pos) {
      pos.textContent = k;
      pos.setAttribute('aria-label', `Position ${k}`);
    }
    const up = li.querySelector('[data-action="up"]');
    if (up) up.disabled = n === 0;
    const down = li.querySelector('[data-action="down"]');
    if (down) down.disabled = last;
  }

  function item(hand, n) {
    const p = store.person(hand.participant) || { name: store.nameOf(hand.participant), initials: '?', colour: '#888888' };
    const mine = hand.participant === store.me?.id;
    const kind = HAND_KINDS[hand.kind];
    const note = noteFor(hand);
    const fac = store.isFacilitator;
    const offered = store.floor?.state === 'offered' && store.floor.offered_to === hand.participant;
    // The one offered the floor is out of the numbering; the others count on without them.
    const place = store.placeOf(hand.participant);
    const compact = store.queue.length > QUEUE_COMPACT_AT;
    const li = h('li', {
      class: `hand ${hand.kind}${mine ? ' mine' : ''}${offered ? ' offered' : ''}`,
      style: { '--c': p.colour },
      data: { pid: hand.participant, position: hand.position, kind: hand.kind },
      draggable: fac ? 'true' : false,
    },
    offered
      ? h('span', { class: 'pos offered', 'aria-label': 'Offered the floor' }, icon('offered'))
      : h('span', { class: 'pos', 'aria-label': `Position ${place?.k}` }, String(place?.k ?? '')),
    avatar(p, 'small'),
    h('div', { class: 'hand-body' },
      h('div', { class: 'hand-line' },
        h('span', { class: 'hand-name' }, p.name, mine ? ' (you)' : ''),
        h('span', { class: `kind kind-${hand.kind}`, title: kind.long },
          icon(kind.icon), h('span', { class: 'kind-word' }, ` ${kind.label}`)),
        offered ? h('span', { class: 'badge' }, 'Offered') : null,
        // Away keeps the place; offers skip them until they are back.
        p.presence === 'away' ? h('span', { class: 'badge away', title: 'Keeps their place; the floor goes to the next hand until they are back' }, icon('away'), ' Away — skipped') : null),
      note ? h('p', { class: 'note' },
        h('span', { class: 'note-label' }, mine ? 'My point (only you and the facilitator see this): ' : 'Note: '), note) : null,
      h('span', { class: 'waited', data: { raised: hand.raised_ms } })),
    fac ? h('div', { class: 'hand-actions' },
      h('button', { type: 'button', class: 'small', 'data-focus-key': `qgrant-${hand.participant}`, 'data-action': 'grant', 'aria-label': `Give the floor to ${p.name}`, title: compact ? 'Give floor' : null, on: { click: () => actions.grant(hand.participant) } }, compact ? icon('stick') : 'Give floor'),
      h('button', { type: 'button', class: 'small icon', 'data-focus-key': `up-${hand.participant}`, 'data-action': 'up', 'aria-label': `Move ${p.name} up`, disabled: n === 0, on: { click: () => actions.moveHand(hand.participant, positionOf(hand) - 1) } }, icon('up')),
      h('button', { type: 'button', class: 'small icon', 'data-focus-key': `down-${hand.participant}`, 'data-action': 'down', 'aria-label': `Move ${p.name} down`, disabled: n === store.queue.length - 1, on: { click: () => actions.moveHand(hand.participant, positionOf(hand) + 1) } }, icon('down')),
      h('button', { type: 'button', class: 'small icon danger', 'data-focus-key': `remove-${hand.participant}`, 'data-action': 'remove', 'aria-label': `Remove ${p.name}'s hand`, on: { click: () => actions.removeHand(hand.participant) } }, icon('remove')))
      : null);
    if (fac) dragAndDrop(li, hand);
    return li;
  }

  function dragAndDrop(li, hand) {
    li.addEventListener('dragstart', (e) => {
      dragging = hand.participant;
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', String(hand.participant));
      li.classList.add('dragging');
    });
    li.addEventListener('dragend', () => {
      dragging = null;
      li.classList.remove('dragging');
      for (const el of list.querySelectorAll('.drop-target')) el.classList.remove('drop-target');
      if (redrawAfterDrag) { redrawAfterDrag = false; draw(); }
    });
    li.addEventListener('dragover', (e) => {
      if (dragging === null || dragging === hand.participant) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      li.classList.add('drop-target');
    });
    li.addEventListener('dragleave', () => li.classList.remove('drop-target'));
    li.addEventListener('drop', (e) => {
      e.preventDefault();
      li.classList.remove('drop-target');
      const from = Number(e.dataTransfer.getData('text/plain') || dragging);
      if (from && from !== hand.participant) actions.moveHand(from, positionOf(hand));
    });
  }

  const draw = onFrame(drawNow);

  function drawNow() {
    if (dragging !== null) { redrawAfterDrag = true; return; }
    const hands = store.queue;
    list.classList.toggle('compact', hands.length > QUEUE_COMPACT_AT);
    const offeredTo = store.floor?.state === 'offered' ? store.floor.offered_to : null;
    keyedRender(list, hands.map((hand, n) => ({ hand, n })), {
      key: ({ hand }) => hand.participant,
      sig: ({ hand }) => {
        const p = store.person(hand.participant);
        return JSON.stringify([hand.kind, hand.raised_ms, p?.name, p?.colour, p?.initials, p?.presence, noteFor(hand),
          store.isFacilitator, offeredTo === hand.participant, hands.length > QUEUE_COMPACT_AT]);
      },
      build: ({ hand, n }) => item(hand, n),
      update: place,
    });
    empty.hidden = hands.length > 0;
    count.textContent = String(hands.length);
    const toolsNow = `${store.isFacilitator && hands.length > 0}/${actions.confirming('clear') ?? ''}`;
    if (tools.dataset.drawn !== toolsNow) {
      tools.dataset.drawn = toolsNow;
      render(tools, store.isFacilitator && hands.length
      ? h('button', { type: 'button', class: `small danger${actions.confirming('clear') ? ' confirming' : ''}`, id: 'clear-hands', 'data-focus-key': 'clear', on: { click: (e) => actions.clearHands(e.currentTarget) } }, actions.confirming('clear') ?? 'Clear all')
      : null);
    }
    tick();
  }

  function tick() {
    const now = store.roomNow();
    for (const el of list.querySelectorAll('.waited')) {
      const text = `waiting ${fmtDuration(now - Number(el.dataset.raised))}`;
      if (el.textContent !== text) el.textContent = text;
    }
  }

  store.on('queue', draw);
  store.on('people', (d) => { if (store.queue.length && d && (d.joined || d.left || d.updated)) draw(); });
  store.on('floor', draw);
  store.on('joined', draw);
  return { draw, tick };
}
