// One tile per person: colour, initials, name, role, mic state, away, connection,
// speaking ring, their place in the queue and their latest reaction. Facilitators also
// get "give floor", mute/unmute and "remove" (asked twice) on each tile. Every state has
// words or an icon as well as colour.
//
// A plenary (more than COMPACT_AT people) gets one line per person instead, with a search
// box and filters (hands up, speaking, away, muted), so that forty people fit a screen.

import { h, render, avatar, keyedRender, onFrame } from '../dom.js';
import { HAND_KINDS, ROLE_LABEL, reactionByKind } from '../labels.js';
import { icon } from '../icons.js';

/** More people than this: one line each, with search and filters. */
export const COMPACT_AT = 12;

/** Who each filter keeps. */
export const FILTERS = {
  all: { label: 'All', keep: () => true },
  hands: { label: 'Hands up', keep: (p, store) => !!store.handOf(p.id) },
  speaking: { label: 'Speaking', keep: (p, store) => p.speaking || (store.floor?.state === 'held' && store.floor.holder === p.id) },
  away: { label: 'Away', keep: (p) => p.presence === 'away' || !p.connected },
  muted: { label: 'Muted', keep: (p) => p.force_muted },
};

export function peopleView(store, actions) {
  const list = document.getElementById('people');
  const count = document.getElementById('people-count');
  const tools = document.getElementById('people-tools');
  const search = document.getElementById('people-search');
  const filterBox = document.getElementById('people-filters');
  let filter = 'all';
  let query = '';

  function status(name, text, cls = '') {
    return h('li', { class: cls }, icon(name), ' ', text);
  }

  function micStatus(p) {
    // A facilitator listening in on a breakout group: present, never heard.
    if (p.listening) return status('headphones', 'Listening in', 'mic listening');
    if (p.force_muted) return status('mic-blocked', 'Muted by facilitator', 'mic muted');
    if (p.push_to_talk && !p.mic_on) return status('ptt', 'Push-to-talk', 'mic ptt');
    return p.mic_on ? status('mic', 'Mic on', 'mic on') : status('mic-off', 'Mic off', 'mic off');
  }

  let audioInUse = false;

  function tile(p) {
    const f = store.floor;
    const me = p.id === store.me?.id;
    const holds = f?.state === 'held' && f.holder === p.id;
    const offered = f?.state === 'offered' && f.offered_to === p.id;
    const hand = store.handOf(p.id);
    const reaction = store.recentReaction(p.id);
    const r = reaction ? reactionByKind[reaction.kind] : null;
    const group = actions.groupOf?.(p.id) ?? null;
    const classes = ['tile',
      p.speaking && 'speaking', holds && 'holder', me && 'me',
      p.presence === 'away' && 'away', !p.connected && 'offline'].filter(Boolean).join(' ');
    const bits = [
      micStatus(p),
      p.speaking && status('speaking', 'Speaking', 'speaking-label'),
      holds && status('stick', 'Has the floor', 'floor'),
      offered && status('offered', me ? "It's your turn" : "It's their turn", 'floor'),
      hand && status(HAND_KINDS[hand.kind].icon, `#${hand.position} ${HAND_KINDS[hand.kind].label}`, `hand-status ${hand.kind}`),
      p.unmute_requested && status('asks-unmute', 'Asks to be unmuted', 'asks-unmute'),
      p.presence === 'away' && status('away', 'Away', 'away-label'),
      !p.connected && status('offline', 'Reconnecting…', 'offline-label'),
      p.push_to_talk && p.mic_on && status('ptt', 'Push-to-talk', 'ptt'),
      // In the plenary while groups run: where someone is, rather than their (closed)
      // plenary audio.
      group && status('present', `In ${group}`, 'in-group'),
      // Only once audio is running for someone: then a missing connection means trouble.
      !group && audioInUse && p.connected && p.audio === false && status('no-audio', 'No audio connection', 'no-audio'),
    ];
    const tools = store.isFacilitator ? h('div', { class: 'tile-actions' },
      h('button', {
        type: 'button', class: 'small', 'data-focus-key': `grant-${p.id}`, 'data-action': 'grant',
        'aria-label': `Give the floor to ${p.name}`, disabled: holds || offered,
        title: compact ? 'Give floor' : null, on: { click: () => actions.grant(p.id) },
      }, compact ? icon('stick') : 'Give floor'),
      p.force_muted
        ? h('button', { type: 'button', class: `small${p.unmute_requested ? ' primary' : ''}`, 'data-focus-key': `unmute-${p.id}`, 'data-action': 'unmute', 'aria-label': p.unmute_requested ? `Allow ${p.name} to speak: unmute` : `Unmute ${p.name}`, on: { click: () => actions.unmute(p.id) } }, p.unmute_requested ? 'Allow — unmute' : 'Unmute')
        : h('button', { type: 'button', class: 'small', 'data-focus-key': `mute-${p.id}`, 'data-action': 'mute', 'aria-label': `Mute ${p.name}`, on: { click: () => actions.mute(p.id) } }, 'Mute'),
      me ? null : h('button', {
        type: 'button', class: `small danger${actions.confirming(`remove-${p.id}`) ? ' confirming' : ''}`, 'data-focus-key': `remove-${p.id}`, 'data-action': 'remove',
        'aria-label': `Remove ${p.name} from the room`, title: compact ? 'Remove from the room' : null, on: { click: (e) => actions.remove(e.currentTarget, p) },
      }, actions.confirming(`remove-${p.id}`) ?? (compact ? icon('remove') : 'Remove')))
      : null;
    if (compact) return row(p, { me, classes, bits, tools });
    return h('li', { class: classes, style: { '--c': p.colour }, data: { pid: p.id, name: p.name } },
      h('div', { class: 'tile-top' },
        avatar(p),
        h('div', { class: 'tile-id' },
          h('span', { class: 'tile-name' }, p.name, me ? h('span', { class: 'you' }, ' (you)') : null),
          h('span', { class: 'tile-role' }, ROLE_LABEL[p.role])),
        r ? h('span', { class: `tile-reaction${reaction.age < 400 ? ' fresh' : ''}`, data: { reaction: r.kind }, title: r.label },
          icon(r.icon), h('span', { class: 'reaction-word' }, r.label)) : null),
      h('ul', { class: 'tile-status', 'aria-label': `${p.name}: status` }, bits),
      tools);
  }

  /** A fact on one line: the icon shows, the words are for screen readers and hover. */
  function fact(li) {
    li.title = li.textContent.trim();
    li.lastChild.replaceWith(h('span', { class: 'sr-only' }, li.lastChild.textContent));
    return li;
  }

  function lineReaction(p) {
    const reaction = store.recentReaction(p.id);
    const r = reaction ? reactionByKind[reaction.kind] : null;
    return r ? h('span', { class: `tile-reaction${reaction.age < 400 ? ' fresh' : ''}`, data: { reaction: r.kind }, title: r.label },
      icon(r.icon), h('span', { class: 'sr-only' }, r.label)) : null;
  }

  const micKey = (p) => `${p.force_muted}/${p.push_to_talk}/${p.mic_on}`;
  const reactionKey = (p) => store.recentReaction(p.id)?.kind ?? '';

  /** One line: the tile's facts as icons with words for screen readers and on hover. */
  function row(p, { me, classes, bits, tools }) {
    // (Push-to-talk with the mic on shows as "Mic on": one fact about the mic per line.)
    const facts = bits.filter((b) => b && !b.classList.contains('ptt')).map(fact);
    return h('li', { class: `${classes} row`, style: { '--c': p.colour }, data: { pid: p.id, name: p.name, mic: micKey(p), reaction: reactionKey(p) } },
      avatar(p, 'small'),
      h('span', { class: 'tile-name' }, p.name, me ? h('span', { class: 'you' }, ' (you)') : null,
        p.role === 'facilitator' ? h('span', { class: 'tile-role' }, ` · ${ROLE_LABEL[p.role]}`) : null),
      h('ul', { class: 'tile-status', 'aria-label': `${p.name}: status` }, facts),
      lineReaction(p),
      tools);
  }

  /** On a line, what changes most (the mic, a reaction) is changed in place. */
  function patchLine(el, p) {
    if (el.dataset.mic !== micKey(p)) {
      el.dataset.mic = micKey(p);
      el.querySelector('.tile-status > .mic')?.replaceWith(fact(micStatus(p)));
    }
    if (el.dataset.reaction !== reactionKey(p)) {
      el.dataset.reaction = reactionKey(p);
      el.querySelector(':scope > .tile-reaction')?.remove();
      const now = lineReaction(p);
      if (now) el.insertBefore(now, el.querySelector(':scope > .tile-actions'));
    }
  }

  let compact = false;

  // The chips stay the same elements (a chip that has focus keeps it): only their
  // counts and pressed state change.
  function drawFilters(all) {
    const chips = Object.entries(FILTERS).map(([key, f]) => ({ key, f, n: all.filter((p) => f.keep(p, store)).length }));
    keyedRender(filterBox, chips, {
      key: (c) => c.key,
      sig: (c) => `${c.key === filter}/${c.n}`,
      build: ({ key, f, n }) => h('button', {
        type: 'button', class: 'chip', 'aria-pressed': String(filter === key), 'data-filter': key, 'data-focus-key': `filter-${key}`,
        on: { click: () => { filter = key; draw(); } },
      }, f.label, key === 'all' ? null : h('span', { class: 'chip-count' }, ` ${n}`)),
    });
  }

  const draw = onFrame(drawNow);

  function drawNow() {
    const all = [...store.people.values()];
    audioInUse = all.some((p) => p.audio === true);
    compact = all.length > COMPACT_AT;
    list.classList.toggle('compact', compact);
    document.body.classList.toggle('plenary', compact);
    tools.hidden = !compact;
    let people = all;
    if (compact) {
      const q = query.trim().toLocaleLowerCase();
      people = all.filter((p) => FILTERS[filter].keep(p, store) && (!q || p.name.toLocaleLowerCase().includes(q)));
      drawFilters(all);
    }
    // A line is built again only when something it shows changed.
    const f = store.floor;
    keyedRender(list, people, {
      key: (p) => p.id,
      sig: (p) => {
        const hand = store.handOf(p.id);
        // On a line the mic and reactions change in place (patchLine), not by a new line.
        const shown = compact ? { ...p, mic_on: null, push_to_talk: null } : p;
        return JSON.stringify([shown, compact, audioInUse, store.isFacilitator, p.id === store.me?.id,
          f?.state === 'held' && f.holder === p.id, f?.state === 'offered' && f.offered_to === p.id,
          hand?.kind, compact ? null : store.recentReaction(p.id)?.kind, actions.confirming(`remove-${p.id}`),
          actions.groupOf?.(p.id) ?? null]);
      },
      build: tile,
      // A hand's number changes whenever a hand ahead of it comes down: set it in place.
      update: (el, p) => {
        if (compact) patchLine(el, p);
        const hand = store.handOf(p.id);
        const li = el.querySelector('.hand-status');
        if (!hand || !li) return;
        const text = `#${hand.position} ${HAND_KINDS[hand.kind].label}`;
        if (li.lastChild.textContent !== text) li.lastChild.textContent = text;
        if (compact) li.title = text;
      },
    });
    if (count) count.textContent = people.length === all.length ? String(all.length) : `${people.length} of ${all.length}`;
  }

  search.addEventListener('input', () => { query = search.value; draw(); });
  search.addEventListener('keydown', (e) => { if (e.key === 'Escape' && search.value) { e.stopPropagation(); search.value = ''; query = ''; draw(); } });

  store.on('people', draw);
  actions.onGroups?.(draw);
  store.on('joined', draw);
  // Filters by hand and by floor change with the queue and the floor too.
  store.on('queue', () => { if (compact && filter !== 'all') draw(); });
  store.on('floor', () => { if (compact && filter === 'speaking') draw(); });
  return { draw };
}
