// The hand queue, in the server's order, the same positions for everyone. Your own
// note shows only to you (facilitators see every note). Facilitators can give the
// floor, move hands with buttons or drag-and-drop, remove one or clear all.

import { h, render, avatar, fmtDuration } from '../dom.js';
import { HAND_KINDS } from '../labels.js';
import { icon } from '../icons.js';

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

  function item(hand, n) {
    const p = store.person(hand.participant) || { name: store.nameOf(hand.participant), initials: '?', colour: '#888888' };
    const mine = hand.participant === store.me?.id;
    const kind = HAND_KINDS[hand.kind];
    const note = noteFor(hand);
    const fac = store.isFacilitator;
    const offered = store.floor?.state === 'offered' && store.floor.offered_to === hand.participant;
    // The one offered the floor is out of the numbering; the others count on without them.
    const place = store.placeOf(hand.participant);
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
          icon(kind.icon), ` ${kind.label}`),
        offered ? h('span', { class: 'badge' }, 'Offered') : null,
        // Away keeps the place; offers skip them until they are back.
        p.presence === 'away' ? h('span', { class: 'badge away', title: 'Keeps their place; the floor goes to the next hand until they are back' }, icon('away'), ' Away — skipped') : null),
      note ? h('p', { class: 'note' },
        h('span', { class: 'note-label' }, mine ? 'My point (only you and the facilitator see this): ' : 'Note: '), note) : null,
      h('span', { class: 'waited', data: { raised: hand.raised_ms } })),
    fac ? h('div', { class: 'hand-actions' },
      h('button', { type: 'button', class: 'small', 'data-focus-key': `qgrant-${hand.participant}`, 'data-action': 'grant', 'aria-label': `Give the floor to ${p.name}`, on: { click: () => actions.grant(hand.participant) } }, 'Give floor'),
      h('button', { type: 'button', class: 'small icon', 'data-focus-key': `up-${hand.participant}`, 'data-action': 'up', 'aria-label': `Move ${p.name} up`, disabled: n === 0, on: { click: () => actions.moveHand(hand.participant, hand.position - 1) } }, icon('up')),
      h('button', { type: 'button', class: 'small icon', 'data-focus-key': `down-${hand.participant}`, 'data-action': 'down', 'aria-label': `Move ${p.name} down`, disabled: n === store.queue.length - 1, on: { click: () => actions.moveHand(hand.participant, hand.position + 1) } }, icon('down')),
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
      if (from && from !== hand.participant) actions.moveHand(from, hand.position);
    });
  }

  function draw() {
    if (dragging !== null) { redrawAfterDrag = true; return; }
    const hands = store.queue;
    render(list, hands.map(item));
    empty.hidden = hands.length > 0;
    count.textContent = String(hands.length);
    render(tools, store.isFacilitator && hands.length
      ? h('button', { type: 'button', class: `small danger${actions.confirming('clear') ? ' confirming' : ''}`, id: 'clear-hands', 'data-focus-key': 'clear', on: { click: (e) => actions.clearHands(e.currentTarget) } }, actions.confirming('clear') ?? 'Clear all')
      : null);
    tick();
  }

  function tick() {
    const now = store.roomNow();
    for (const el of list.querySelectorAll('.waited')) {
      el.textContent = `waiting ${fmtDuration(now - Number(el.dataset.raised))}`;
    }
  }

  store.on('queue', draw);
  store.on('people', (d) => { if (store.queue.length && d && (d.joined || d.left || d.updated)) draw(); });
  store.on('floor', draw);
  store.on('joined', draw);
  return { draw, tick };
}
