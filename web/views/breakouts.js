// Breakout groups: the banner that says which group you are in and how long is left
// (everyone), and the facilitator's Groups tab: open groups (by number or size; random,
// balanced, by hand, or people choose; names; a duration), then move people, make a
// learner a group's lead, listen in or join a group, send a notice to every group, close
// one group, and call everyone back (now, or after a countdown every banner shows).
// Where people choose, a learner picks their group in the banner. Someone in a group
// asks for help from the banner; the facilitator sees who asks (and since when) on the
// group's card, and answers by going there or by dismissing it.
//
// Everything here speaks of the plenary's people (ids, names, colours from rooms.js),
// wherever the page is, and every action goes to the plenary (`sendPlenary`).

import { h, render } from '../dom.js';

const MINUTES = [0, 5, 10, 15, 20, 30, 45, 60];
/** Countdowns of a call-back, in seconds (0: now). */
const CALL_BACK = [[0, 'now'], [30, 'in 30 seconds'], [60, 'in 1 minute'], [120, 'in 2 minutes']];

/** `m:ss` for a number of milliseconds (never negative). */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Deals `ids` into `n` groups in turn (a starting point for placing people by hand). */
export function roundRobin(ids, n) {
  return new Map(ids.map((id, i) => [id, (i % n) + 1]));
}

export function breakoutsView(store, rooms, { toast, confirmTwice }) {
  const box = document.getElementById('breakouts-panel');
  const tab = document.getElementById('tab-breakouts');
  const banner = document.getElementById('group-banner');
  const plan = { by: 'groups', groups: 2, size: 5, assign: 'random', minutes: 0, names: '', manual: new Map(), callBackIn: 60 };
  let dragged = null;

  const isFac = () => rooms.plenaryRole === 'facilitator';
  const person = (id) => rooms.plenaryPeople.get(id);
  const nameOf = (id) => person(id)?.name ?? `Participant ${id}`;
  const send = (type, fields) => {
    if (rooms.sendPlenary(type, fields) === null) toast('You are offline right now — wait for the connection to come back, then try again.', 'error');
  };
  const others = () => [...rooms.plenaryPeople.values()].filter((p) => p.id !== rooms.plenaryMe);
  const groupCount = () => {
    if (plan.by === 'groups' || plan.assign === 'manual') return plan.groups;
    return Math.max(1, Math.ceil(others().length / Math.max(1, plan.size)));
  };

  function dot(p) {
    return h('span', { class: 'dot', style: { background: p?.colour ?? '#999' }, 'aria-hidden': 'true' });
  }

  // ---- the banner ----

  function drawBanner() {
    const b = rooms.breakouts;
    const room = rooms.inGroup;
    if (!b) { banner.hidden = true; return; }
    const g = room ? b.groups.find((x) => x.room === room) : null;
    // The round's end or a call-back's countdown, whichever comes first.
    const ends = [b.ends_ms, b.closes_ms].filter((t) => t != null);
    const end = ends.length ? Math.min(...ends) : null;
    const left = end === null ? null : end - rooms.plenaryNow();
    const countdown = end !== null && end === b.closes_ms;
    const where = g
      ? `${rooms.visit?.listen ? 'Listening in on' : 'You are in'} ${g.name}`
      : b.choose ? 'Breakout groups are running: choose one' : 'Breakout groups are running; you are in the plenary';
    const parts = [h('span', { id: 'group-where' }, where)];
    // Where people choose, a learner picks a group here (or the plenary, once in one);
    // facilitators go where they like from the Groups tab.
    const mineNo = b.groups.find((x) => x.open && x.members.includes(rooms.plenaryMe))?.no ?? 0;
    if (b.choose && !isFac()) {
      parts.push(h('label', { class: 'sr-only', for: 'group-choose' }, 'Your breakout group'),
        h('select', { id: 'group-choose', class: 'small', 'data-focus-key': 'group-choose', on: { change: (e) => { send('choose_group', { group: Number(e.target.value) }); delete banner.dataset.sig; } } },
          h('option', { value: 0, selected: mineNo === 0 }, mineNo === 0 ? 'Choose a group…' : 'Back to the plenary'),
          b.groups.filter((x) => x.open).map((x) => h('option', { value: x.no, selected: x.no === mineNo }, `${x.name} (${x.members.length})`))));
    }
    if (left !== null) parts.push(h('span', { class: `time-left${countdown ? ' closing' : ''}`, id: 'group-time-left' }, countdown ? `Back to the plenary in ${clock(left)}` : `${clock(left)} left`));
    if (isFac() && room) parts.push(h('button', { type: 'button', class: 'small', id: 'group-leave', on: { click: () => rooms.goTo(null) } }, 'Back to the plenary'));
    // A member of the group (not a facilitator visiting it) may ask for help.
    const member = g?.members.includes(rooms.plenaryMe);
    const asked = member && (g.help ?? []).some((x) => x.participant === rooms.plenaryMe);
    if (member && !asked) parts.push(h('button', { type: 'button', class: 'small', id: 'group-help', on: { click: () => send('ask_for_help') } }, 'Ask for help'));
    if (asked) {
      parts.push(h('span', { id: 'group-help-asked', role: 'status' }, 'You asked for help: a facilitator has been told.'),
        h('button', { type: 'button', class: 'small', id: 'group-help-withdraw', on: { click: () => send('withdraw_help') } }, 'Cancel'));
    }
    banner.hidden = false;
    const choices = b.choose ? b.groups.map((x) => `${x.no}:${x.open}:${x.members.length}`).join(',') + `@${mineNo}` : '';
    const sig = `${where}|${left === null ? '' : clock(left)}|${countdown}|${choices}|${isFac() && !!room}|${member}|${asked}`;
    if (banner.dataset.sig !== sig) {
      banner.dataset.sig = sig;
      render(banner, parts);
    }
  }

  // ---- the facilitator's tab ----

  function draw() {
    const fac = isFac();
    tab.hidden = !fac;
    // A learner who leads a group facilitates that group only: no invites from them.
    const invite = document.getElementById('tab-invite');
    if (invite) invite.hidden = !fac && !!rooms.inGroup;
    if (!fac) return;
    if (!rooms.breakouts) drawPlan(); else drawRunning(rooms.breakouts);
  }

  function drawPlan() {
    const n = groupCount();
    const people = others();
    if (plan.assign === 'manual') {
      for (const p of people) if (!plan.manual.has(p.id) || plan.manual.get(p.id) > n) plan.manual.set(p.id, ((people.indexOf(p)) % n) + 1);
    }
    const by = h('fieldset', {}, h('legend', {}, 'Make groups'),
      h('label', { class: 'check-row' }, h('input', { type: 'radio', name: 'bo-by', id: 'bo-by-groups', checked: plan.by === 'groups', on: { change: () => { plan.by = 'groups'; draw(); } } }), ' Number of groups'),
      h('input', { type: 'number', id: 'bo-groups', min: 2, max: 20, value: plan.groups, 'aria-label': 'Number of groups', 'data-focus-key': 'bo-groups', on: { change: (e) => { plan.groups = Number(e.target.value) || 2; draw(); } } }),
      h('label', { class: 'check-row' }, h('input', { type: 'radio', name: 'bo-by', id: 'bo-by-size', checked: plan.by === 'size', disabled: plan.assign === 'manual', on: { change: () => { plan.by = 'size'; draw(); } } }), ' People per group'),
      h('input', { type: 'number', id: 'bo-size', min: 1, max: 40, value: plan.size, 'aria-label': 'People per group', 'data-focus-key': 'bo-size', disabled: plan.assign === 'manual', on: { change: (e) => { plan.size = Number(e.target.value) || 5; draw(); } } }),
      h('p', { class: 'hint', id: 'bo-summary' }, plan.assign === 'choose' ? `${n} groups for ${people.length} people to choose from.` : `${people.length} people in ${n} groups.`));
    const assign = h('fieldset', {}, h('legend', {}, 'Who goes where'),
      ...[['random', 'Random'], ['balanced', 'Balanced: spread talk time, keep facilitators apart'], ['manual', 'By hand'], ['choose', 'People choose their group (and may change it)']].map(([v, label]) =>
        h('label', { class: 'check-row' }, h('input', { type: 'radio', name: 'bo-assign', id: `bo-assign-${v}`, value: v, checked: plan.assign === v, on: { change: () => { plan.assign = v; if (v === 'manual') plan.by = 'groups'; draw(); } } }), ` ${label}`)));
    const names = h('div', { class: 'field' },
      h('label', { for: 'bo-names' }, 'Names or topics, one per line (optional)'),
      h('textarea', { id: 'bo-names', rows: 2, 'data-focus-key': 'bo-names', on: { input: (e) => { plan.names = e.target.value; } } }, plan.names));
    const minutes = h('div', { class: 'field' },
      h('label', { for: 'bo-minutes' }, 'Call everyone back after'),
      h('select', { id: 'bo-minutes', on: { change: (e) => { plan.minutes = Number(e.target.value); } } },
        MINUTES.map((m) => h('option', { value: m, selected: plan.minutes === m }, m ? `${m} minutes` : 'No time limit'))));
    const manual = plan.assign === 'manual' ? manualList(people, n) : null;
    const open = h('button', { type: 'button', class: 'primary', id: 'bo-open', on: { click: openGroups } }, `Open ${n} groups`);
    render(box, by, assign, manual, names, minutes, open);
  }

  /** By hand: each person with a group picker (keyboard), and drag onto a group. */
  function manualList(people, n) {
    const columns = [];
    for (let g = 0; g <= n; g++) {
      const members = people.filter((p) => (plan.manual.get(p.id) ?? 0) === g);
      const col = h('section', {
        class: 'bo-group', data: { group: g },
        on: {
          dragover: (e) => { e.preventDefault(); col.classList.add('drop-target'); },
          dragleave: () => col.classList.remove('drop-target'),
          drop: (e) => { e.preventDefault(); if (dragged != null) { plan.manual.set(dragged, g); dragged = null; draw(); } },
        },
      }, h('h4', {}, g === 0 ? 'Stays in the plenary' : `Group ${g}`, ` (${members.length})`),
      h('ul', {}, members.map((p) => h('li', {
        class: 'bo-person', draggable: 'true', data: { name: p.name },
        on: { dragstart: () => { dragged = p.id; } },
      }, h('span', { class: 'who' }, dot(p), p.name),
      h('select', {
        'aria-label': `Group for ${p.name}`, 'data-focus-key': `bo-manual-${p.id}`,
        on: { change: (e) => { plan.manual.set(p.id, Number(e.target.value)); draw(); } },
      }, [...Array(n + 1).keys()].map((k) => h('option', { value: k, selected: k === g }, k === 0 ? 'Plenary' : `Group ${k}`)))))));
      columns.push(col);
    }
    return h('div', { class: 'bo-groups', id: 'bo-manual' }, columns);
  }

  function openGroups() {
    const n = groupCount();
    const names = plan.names.split('\n').map((s) => s.trim()).slice(0, n);
    while (names.length && !names[names.length - 1]) names.pop();
    const msg = { assign: plan.assign };
    if (plan.assign === 'manual') {
      msg.groups = n;
      msg.manual = [...Array(n).keys()].map((k) => others().filter((p) => plan.manual.get(p.id) === k + 1).map((p) => p.id));
    } else if (plan.by === 'groups') msg.groups = n;
    else msg.size = plan.size;
    if (names.length) msg.names = names;
    if (plan.minutes) msg.minutes = plan.minutes;
    send('open_breakouts', msg);
  }

  function drawRunning(b) {
    const open = b.groups.filter((g) => g.open);
    const inNone = others().filter((p) => !open.some((g) => g.members.includes(p.id)));
    const mover = (id) => h('select', {
      'aria-label': `Move ${nameOf(id)}`, 'data-focus-key': `bo-move-${id}`, class: 'bo-move',
      on: { change: (e) => send('move_to_group', { participant: id, group: Number(e.target.value) }) },
    }, h('option', { value: 0, selected: !open.some((g) => g.members.includes(id)) }, 'Plenary'),
    open.map((g) => h('option', { value: g.no, selected: g.members.includes(id) }, g.name)));
    const row = (id, g) => h('li', { class: 'bo-person', data: { name: nameOf(id) } },
      h('span', { class: 'who' }, dot(person(id)), nameOf(id), g?.leads.includes(id) ? h('span', { class: 'bo-lead' }, 'lead') : null),
      g && person(id)?.role === 'learner' ? h('button', {
        type: 'button', class: 'small', 'data-focus-key': `bo-lead-${id}`,
        on: { click: () => send('set_group_lead', { participant: id, lead: !g.leads.includes(id) }) },
      }, g.leads.includes(id) ? 'Not lead' : 'Make lead') : null,
      mover(id));
    const here = rooms.inGroup;
    // Going to a group that asked for help answers it: its askers hear that it was seen.
    const goTo = (g, opts) => {
      if (g.help?.length) send('answer_help', { group: g.no });
      rooms.goTo(g.room, opts);
    };
    const help = (g) => (g.help?.length ? h('div', { class: 'bo-help', id: `bo-help-${g.no}` },
      h('span', {}, `${g.help.map((x) => nameOf(x.participant)).join(', ')} ${g.help.length > 1 ? 'ask' : 'asks'} for help`,
        h('span', { class: 'time-left', data: { since: g.help[0].since_ms } }, ` · ${clock(rooms.plenaryNow() - g.help[0].since_ms)}`)),
      h('button', { type: 'button', class: 'small', id: `bo-help-dismiss-${g.no}`, 'data-focus-key': `bo-help-dismiss-${g.no}`, on: { click: () => send('answer_help', { group: g.no }) } }, 'Seen')) : null);
    const groups = open.map((g) => h('section', { class: `bo-group${g.help?.length ? ' asks-help' : ''}`, data: { group: g.no }, 'aria-label': g.name },
      h('h4', {}, g.name, ` (${g.members.length})`, here === g.room ? h('span', { class: 'bo-lead' }, rooms.visit?.listen ? 'listening' : 'you are here') : null),
      help(g),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'small', 'data-focus-key': `bo-listen-${g.no}`, id: `bo-listen-${g.no}`, on: { click: () => goTo(g, { listen: true }) } }, 'Listen in'),
        h('button', { type: 'button', class: 'small', 'data-focus-key': `bo-join-${g.no}`, id: `bo-join-${g.no}`, on: { click: () => goTo(g) } }, 'Join'),
        h('button', {
          type: 'button', class: 'small danger', 'data-focus-key': `bo-close-${g.no}`,
          on: { click: (e) => confirmTwice(e.currentTarget, 'Close it?', () => send('close_group', { group: g.no })) },
        }, 'Close group')),
      h('ul', {}, g.members.map((id) => row(id, g)))));
    const plenary = inNone.length ? h('section', { class: 'bo-group', data: { group: 0 } },
      h('h4', {}, `In the plenary (${inNone.length})`), h('ul', {}, inNone.map((p) => row(p.id, null)))) : null;
    const notice = h('form', {
      class: 'row', id: 'bo-notice-form',
      on: { submit: (e) => { e.preventDefault(); const t = e.target.elements.text; if (t.value.trim()) { send('breakout_notice', { text: t.value }); t.value = ''; } } },
    }, h('label', { for: 'bo-notice', class: 'sr-only' }, 'Notice to every group'),
    h('input', { id: 'bo-notice', name: 'text', maxlength: 280, placeholder: 'Notice to every group', 'data-focus-key': 'bo-notice' }),
    h('button', { type: 'submit', class: 'small' }, 'Send'));
    // Calling back: now, or after a countdown that lets the groups finish; while one runs,
    // the same button brings everyone back at once.
    const counting = b.closes_ms != null;
    const inS = counting ? 0 : plan.callBackIn;
    const when = counting ? null : h('select', {
      id: 'bo-call-back-in', 'aria-label': 'When everyone comes back', 'data-focus-key': 'bo-call-back-in',
      on: { change: (e) => { plan.callBackIn = Number(e.target.value); draw(); } },
    }, CALL_BACK.map(([secs, label]) => h('option', { value: secs, selected: plan.callBackIn === secs }, label)));
    const back = h('div', { class: 'row' }, h('button', {
      type: 'button', class: 'primary', id: 'bo-call-back', 'data-focus-key': 'bo-call-back',
      on: { click: (e) => confirmTwice(e.currentTarget, inS ? `Everyone back ${CALL_BACK.find(([x]) => x === inS)[1]}?` : 'Everyone back now?', () => send('close_breakouts', inS ? { in_s: inS } : {})) },
    }, counting ? 'Call everyone back now' : 'Call everyone back'), when);
    const summary = h('p', { class: 'hint' }, `Round ${b.round}: ${open.length} groups open${b.choose ? ', people choose' : ''}.`,
      counting ? h('span', { id: 'bo-closing', data: { closes: b.closes_ms } }, ` Everyone is back in ${clock(b.closes_ms - rooms.plenaryNow())}.`) : null);
    // The call-back first: it is the action that matters most while groups run, and at
    // the foot of a long list it hid under the toasts.
    render(box, summary, back, h('div', { class: 'bo-groups' }, groups, plenary), notice);
  }

  /** The Groups tab says how many groups ask for help, wherever the facilitator looks. */
  function drawTabAlert() {
    const asking = (rooms.breakouts?.groups ?? []).filter((g) => g.open && g.help?.length).length;
    let badge = document.getElementById('tab-breakouts-help');
    if (!asking) { badge?.remove(); return; }
    if (!badge) {
      badge = h('span', { class: 'count help-count', id: 'tab-breakouts-help' });
      tab.append(badge);
    }
    render(badge, String(asking), h('span', { class: 'sr-only' }, ` ${asking > 1 ? 'groups ask' : 'group asks'} for help`));
  }

  rooms.onBreakouts(() => { draw(); drawBanner(); drawTabAlert(); });
  rooms.onSwitch(() => { draw(); drawBanner(); });
  // Names and colours change as people come and go in the plenary.
  rooms.plenary.on('participant_joined', () => draw());
  rooms.plenary.on('participant_left', () => draw());
  store.on('joined', () => { draw(); drawBanner(); });
  setInterval(() => {
    drawBanner();
    for (const el of box.querySelectorAll('.bo-help [data-since]')) el.textContent = ` · ${clock(rooms.plenaryNow() - Number(el.dataset.since))}`;
    const closing = box.querySelector('#bo-closing');
    if (closing) closing.textContent = ` Everyone is back in ${clock(Number(closing.dataset.closes) - rooms.plenaryNow())}.`;
  }, 1000);
}
