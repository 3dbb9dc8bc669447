// One tile per person: colour, initials, name, role, mic state, away, connection,
// speaking ring, their place in the queue and their latest reaction. Facilitators also
// get "give floor", mute/unmute and "remove" (asked twice) on each tile. Every state has words or an icon as
// well as colour.

import { h, render, avatar } from '../dom.js';
import { HAND_KINDS, ROLE_LABEL, reactionByKind } from '../labels.js';
import { icon } from '../icons.js';

export function peopleView(store, actions) {
  const list = document.getElementById('people');
  const count = document.getElementById('people-count');

  function status(name, text, cls = '') {
    return h('li', { class: cls }, icon(name), ' ', text);
  }

  function micStatus(p) {
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
      // Only once audio is running for someone: then a missing connection means trouble.
      audioInUse && p.connected && p.audio === false && status('no-audio', 'No audio connection', 'no-audio'),
    ];
    const tools = store.isFacilitator ? h('div', { class: 'tile-actions' },
      h('button', {
        type: 'button', class: 'small', 'data-focus-key': `grant-${p.id}`, 'data-action': 'grant',
        'aria-label': `Give the floor to ${p.name}`, disabled: holds || offered,
        on: { click: () => actions.grant(p.id) },
      }, 'Give floor'),
      p.force_muted
        ? h('button', { type: 'button', class: `small${p.unmute_requested ? ' primary' : ''}`, 'data-focus-key': `unmute-${p.id}`, 'data-action': 'unmute', 'aria-label': p.unmute_requested ? `Allow ${p.name} to speak: unmute` : `Unmute ${p.name}`, on: { click: () => actions.unmute(p.id) } }, p.unmute_requested ? 'Allow — unmute' : 'Unmute')
        : h('button', { type: 'button', class: 'small', 'data-focus-key': `mute-${p.id}`, 'data-action': 'mute', 'aria-label': `Mute ${p.name}`, on: { click: () => actions.mute(p.id) } }, 'Mute'),
      me ? null : h('button', {
        type: 'button', class: `small danger${actions.confirming(`remove-${p.id}`) ? ' confirming' : ''}`, 'data-focus-key': `remove-${p.id}`, 'data-action': 'remove',
        'aria-label': `Remove ${p.name} from the room`, on: { click: (e) => actions.remove(e.currentTarget, p) },
      }, actions.confirming(`remove-${p.id}`) ?? 'Remove'))
      : null;
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

  function draw() {
    const people = [...store.people.values()];
    audioInUse = people.some((p) => p.audio === true);
    render(list, people.map(tile));
    if (count) count.textContent = String(people.length);
  }

  store.on('people', draw);
  store.on('joined', draw);
  return { draw };
}
