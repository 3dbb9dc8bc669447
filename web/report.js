// The session report page (`/report.html#token=…`): a facilitator's list of the room's
// sessions and each one's report; a learner's own summary. The token stays in the
// fragment, which browsers never send to a server; it goes only in the Authorization
// header of the page's own requests, and the server decides what it may read.

import { h, render, fmtDuration, saveFile } from './dom.js';
import { REACTIONS, HAND_KINDS } from './labels.js';
import { decodeClaims } from './token.js';

const OUTCOME = {
  served: 'took the floor',
  lowered: 'lowered it',
  declined: 'passed',
  lapsed: 'offer ran out',
  removed: 'removed by a facilitator',
  left: 'left the room',
  waiting: 'never served',
};

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token') || '';
const claims = decodeClaims(token);
const box = document.getElementById('report');
const list = document.getElementById('session-list');
let current = null;

/** A request to the report API; resolves to the parsed JSON, or throws its message. */
async function api(path, { method = 'GET', raw = false } = {}) {
  const res = await fetch(path, { method, headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 204) return null;
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.message || `The server answered ${res.status}.`);
  }
  return raw ? res.text() : res.json();
}

function fail(e) {
  const el = document.getElementById('report-error');
  el.textContent = e.message || String(e);
  el.hidden = false;
}

const when = (ms) => new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
const clock = (ms) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

async function start() {
  if (!claims) return fail(new Error('This page needs the link you joined with. Open it from the room.'));
  document.getElementById('report-who').textContent = `Room “${claims.room}” · ${claims.name} (${claims.role})`;
  if (claims.role !== 'facilitator') return showSummary();
  document.getElementById('sessions').hidden = false;
  const { sessions } = await api('/api/sessions');
  if (!sessions.length) return render(box, h('section', {}, h('p', {}, 'No sessions recorded in this room yet.')));
  render(list, sessions.map((s) => h('li', {}, h('button', {
    type: 'button', data: { run: String(s.run) },
    on: { click: () => showReport(s.run).catch(fail) },
  }, h('span', { class: 'when' }, when(s.started_ms)),
  h('span', { class: 'what' }, s.ended_ms ? `${fmtDuration(s.ended_ms - s.started_ms)}` : 'running now')))));
  await showReport(Number(params.get('run')) || sessions[0].run);
}

async function showReport(run) {
  const r = await api(`/api/sessions/${run}`);
  current = r;
  for (const b of list.querySelectorAll('button')) b.setAttribute('aria-current', String(b.dataset.run === String(run)));
  const person = new Map(r.people.map((p) => [p.participant, p]));
  const name = (id) => person.get(id)?.name ?? '—';
  const unserved = r.hands.filter((x) => x.outcome !== 'served');
  const end = r.balance.at(-1);
  render(box,
    h('section', { 'aria-labelledby': 'facts-h' },
      h('h2', { id: 'facts-h' }, `Session of ${when(r.started_ms)}${r.ended_ms ? '' : ' (running)'}`),
      h('dl', { class: 'report-facts' },
        fact('Length', fmtDuration(r.duration_ms)), fact('People', r.people.length),
        fact('Turns', r.turns.length), fact('Hands raised', r.hands.length),
        fact('Never served', unserved.filter((x) => x.outcome === 'waiting').length),
        fact('Balance at the end', end ? `Gini ${end.gini.toFixed(2)}` : '—')),
      h('div', { class: 'report-actions' },
        button('Download JSON', 'report-download-json', () => saveFile(`${base(r)}.json`, JSON.stringify(r, null, 2), 'application/json')),
        ['people', 'turns', 'hands'].map((t) => button(`CSV: ${t}`, `report-download-${t}`, async () => saveFile(`${base(r)}-${t}.csv`, await api(`/api/sessions/${r.run}?format=csv&table=${t}`, { raw: true }), 'text/csv'))),
        r.ended_ms ? button('Delete this session', 'report-delete', () => remove(r)) : null)),
    h('section', { 'aria-labelledby': 'talk-h' }, h('h2', { id: 'talk-h' }, r.groups?.length ? 'Talk time in the plenary' : 'Talk time'), talkBars(r.people)),
    r.groups?.length ? groupsSection(r) : null,
    h('section', { class: 'timeline', 'aria-labelledby': 'timeline-h' }, h('h2', { id: 'timeline-h' }, 'Who held the floor when'), timeline(r, person)),
    h('section', { class: 'balance', 'aria-labelledby': 'balance-h' }, h('h2', { id: 'balance-h' }, 'Balance over time'),
      h('p', { class: 'hint' }, 'Gini coefficient of talk time after each turn: 0 is everyone equal, 1 is one person.'), balanceChart(r)),
    h('section', { 'aria-labelledby': 'turns-h' }, h('h2', { id: 'turns-h' }, 'Turns and reactions'),
      table(['#', 'Who', 'Start', 'Length', 'Ended', ...REACTIONS.map((x) => x.label)], r.turns.map((t) => [
        t.turn, swatch(person.get(t.holder), name(t.holder)), clock(t.start_ms), fmtDuration((t.end_ms ?? r.duration_ms) - t.start_ms),
        (t.ended ?? 'running').replace('_', ' '), ...REACTIONS.map((x) => t.tally[x.kind] || 0)]))),
    h('section', { 'aria-labelledby': 'hands-h' }, h('h2', { id: 'hands-h' }, 'Waits in the queue'),
      table(['Who', 'Kind', 'Raised', 'Waited', 'Outcome'], r.hands.map((x) => [
        swatch(person.get(x.participant), name(x.participant)), HAND_KINDS[x.kind]?.label ?? x.kind, clock(x.raised_ms),
        fmtDuration(x.wait_ms), x.outcome === 'waiting' ? h('span', { class: 'unserved' }, OUTCOME.waiting) : OUTCOME[x.outcome]]))),
    r.chat.length ? h('section', { 'aria-labelledby': 'chat-h' }, h('h2', { id: 'chat-h' }, 'Chat'),
      table(['Time', 'Who', 'Message'], r.chat.map((m) => [clock(m.at_ms), m.name, m.text]))) : null);
}

async function showSummary() {
  document.getElementById('report-title').textContent = 'Your summary';
  document.title = 'Talkstick — your summary';
  const { summary: s, started_ms: started } = await api(`/api/sessions/${params.get('run') || 'latest'}/summary`);
  const served = s.hands.filter((x) => x.outcome === 'served').length;
  render(box,
    h('section', { 'aria-labelledby': 'mine-h' },
      h('h2', { id: 'mine-h' }, `Your session of ${when(started)}`),
      h('dl', { class: 'report-facts' },
        fact('Session length', fmtDuration(s.duration_ms)), fact('You spoke', fmtDuration(s.talk_ms)),
        fact('Turns', s.turns), fact('Points raised', s.hands.length), fact('Of them heard', served))),
    h('section', { 'aria-labelledby': 'mine-hands-h' }, h('h2', { id: 'mine-hands-h' }, 'Your raised hands'),
      s.hands.length ? table(['Kind', 'Raised', 'Waited', 'Outcome'], s.hands.map((x) => [
        HAND_KINDS[x.kind]?.label ?? x.kind, clock(x.raised_ms), fmtDuration(x.wait_ms), OUTCOME[x.outcome]])) : h('p', {}, 'You did not raise your hand.')),
    h('section', { 'aria-labelledby': 'mine-r-h' }, h('h2', { id: 'mine-r-h' }, 'Reactions to your turns'),
      h('p', {}, REACTIONS.map((x) => `${x.label}: ${s.reactions_received[x.kind] || 0}`).join(' · '))));
}

/** A plenary's breakout groups: each group's talk time and turns, round by round. */
function groupsSection(r) {
  const rounds = [...new Set(r.groups.map((g) => g.round))];
  return h('section', { 'aria-labelledby': 'groups-h', id: 'report-groups' }, h('h2', { id: 'groups-h' }, 'Breakout groups'),
    rounds.map((round) => h('div', { class: 'report-round' },
      rounds.length > 1 ? h('h3', {}, `Round ${round}`) : null,
      r.groups.filter((g) => g.round === round).map((g) => h('div', { class: 'report-group', data: { group: g.no } },
        h('h3', {}, `${g.name} — ${fmtDuration(g.duration_ms)}, ${g.turns} turn${g.turns === 1 ? '' : 's'}`),
        talkBars(g.people, `report-talk-${round}-${g.no}`))))));
}

function fact(label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, String(value)));
}

function button(label, id, run) {
  return h('button', { type: 'button', id, on: { click: () => Promise.resolve(run()).catch(fail) } }, label);
}

function swatch(p, text) {
  return h('span', {}, h('span', { class: 'swatch', style: { '--c': p?.colour ?? '#999' }, 'aria-hidden': 'true' }), text);
}

function table(head, rows) {
  return h('table', {}, h('thead', {}, h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, row.map((c) => h('td', { class: typeof c === 'number' ? 'num' : null }, c))))));
}

function talkBars(people, id = 'report-talk') {
  const rows = [...people].sort((a, b) => b.talk_ms - a.talk_ms);
  const total = rows.reduce((n, p) => n + p.talk_ms, 0);
  const max = Math.max(1, ...rows.map((p) => p.talk_ms));
  return h('ul', { class: 'balance-chart', id }, rows.map((p) => h('li', { class: 'bar-row', data: { name: p.name } },
    h('span', { class: 'bar-name' }, swatch(p, p.name)),
    h('span', { class: 'bar-track', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: { '--c': p.colour, width: `${(p.talk_ms / max) * 100}%` } })),
    h('span', { class: 'bar-value' }, `${fmtDuration(p.talk_ms)} · ${total ? Math.round((p.talk_ms / total) * 100) : 0}% · ${p.turns} turn${p.turns === 1 ? '' : 's'} · waited ${fmtDuration(p.wait_ms)}`))));
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** One lane per person who held the floor, a bar in their colour for each turn. */
function timeline(r, person) {
  const holders = [...new Set(r.turns.map((t) => t.holder))];
  if (!holders.length) return h('p', {}, 'Nobody held the floor.');
  const W = 800, left = 110, lane = 22, top = 6, len = Math.max(1, r.duration_ms);
  const x = (ms) => left + ((W - left - 10) * ms) / len;
  const H = top + holders.length * lane + 18;
  const ticks = [];
  const step = [60e3, 300e3, 600e3, 1800e3].find((s) => len / s <= 10) ?? 3600e3;
  for (let t = 0; t <= len; t += step) ticks.push(svg('text', { x: x(t), y: H - 4, class: 'tick', 'text-anchor': 'middle' }, clock(t)));
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${r.turns.length} turns by ${holders.length} people; the table below lists them` },
    holders.map((id, i) => svg('text', { x: 0, y: top + i * lane + 15, class: 'lane-name' }, person.get(id)?.name ?? '—')),
    r.turns.map((t) => {
      const i = holders.indexOf(t.holder);
      const end = t.end_ms ?? r.duration_ms;
      return svg('rect', { x: x(t.start_ms), y: top + i * lane + 3, width: Math.max(2, x(end) - x(t.start_ms)), height: lane - 6, rx: 3, fill: person.get(t.holder)?.colour ?? '#999' },
        svg('title', {}, `${person.get(t.holder)?.name}: ${clock(t.start_ms)}–${clock(end)}`));
    }),
    ticks);
}

function balanceChart(r) {
  if (r.balance.length < 2) return h('p', {}, r.balance.length ? `Gini ${r.balance[0].gini.toFixed(2)} at the end.` : 'No turns yet.');
  const W = 800, H = 160, pad = 24, len = Math.max(1, r.duration_ms);
  const x = (ms) => pad + ((W - 2 * pad) * ms) / len;
  const y = (g) => H - pad - (H - 2 * pad) * g;
  const points = r.balance.map((b) => `${x(b.at_ms)},${y(b.gini)}`).join(' ');
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Balance went from ${r.balance[0].gini.toFixed(2)} to ${r.balance.at(-1).gini.toFixed(2)}` },
    [0, 0.5, 1].map((g) => svg('line', { x1: pad, x2: W - pad, y1: y(g), y2: y(g), stroke: '#dde1e8' })),
    [0, 0.5, 1].map((g) => svg('text', { x: 2, y: y(g) + 4, class: 'tick' }, g.toFixed(1))),
    svg('polyline', { points, fill: 'none', stroke: '#1a56a8', 'stroke-width': 2.5 }),
    r.balance.map((b) => svg('circle', { cx: x(b.at_ms), cy: y(b.gini), r: 3.5, fill: '#1a56a8' })));
}

async function remove(r) {
  if (!confirm(`Delete the session of ${when(r.started_ms)}? Its record is gone for good.`)) return;
  await api(`/api/sessions/${r.run}`, { method: 'DELETE' });
  location.hash = `token=${encodeURIComponent(token)}`;
  location.reload();
}

const base = (r) => `talkstick-${r.room}-${new Date(r.started_ms).toISOString().slice(0, 16).replace(':', '-')}`;

window.talkstickReport = { get current() { return current; } };
start().catch(fail);
