// Facilitator: live talk-time balance (polled with get_stats, plus the running turn),
// the current turn's reactions, and the session report as JSON and CSV.

import { h, render, fmtDuration, onFrame, saveFile } from '../dom.js';
import { REACTIONS } from '../labels.js';
import { icon } from '../icons.js';
import { reportUrl } from '../token.js';

export const STATS_POLL_MS = 2000;

export function statsView(store, actions) {
  const chart = document.getElementById('balance-chart');
  const summary = document.getElementById('balance-summary');
  const tallyBox = document.getElementById('fac-tally');
  const reportBox = document.getElementById('report-buttons');

  /** Talk time per person now: the last stats plus the running turn since then. */
  function liveTalk() {
    const s = store.stats;
    if (!s) return [];
    const f = store.floor;
    const extra = f?.state === 'held' ? Math.max(0, store.roomNow() - Math.max(s.now_ms, f.since_ms)) : 0;
    return s.people
      .filter((p) => p.present)
      .map((p) => ({ ...p, talk: p.talk_ms + (f?.state === 'held' && f.holder === p.participant ? extra : 0) }));
  }

  function balanceWords(gini) {
    if (gini < 0.2) return 'even';
    if (gini < 0.4) return 'a little uneven';
    if (gini < 0.6) return 'uneven';
    return 'dominated by a few';
  }

  function drawChart() {
    // Drawn only while its tab shows (forty bars, every second): when the tab opens, at once.
    if (chart.closest('[role="tabpanel"]')?.hidden) return;
    const rows = liveTalk().sort((a, b) => b.talk - a.talk);
    const total = rows.reduce((n, p) => n + p.talk, 0);
    const max = Math.max(1, ...rows.map((p) => p.talk));
    render(chart, rows.map((p) => {
      const share = total ? Math.round((p.talk / total) * 100) : 0;
      const live = store.person(p.participant);
      return h('li', { class: 'bar-row', data: { pid: p.participant } },
        h('span', { class: 'bar-name' }, live ? h('span', { class: 'dot', style: { '--c': p.colour }, 'aria-hidden': 'true' }, live.initials) : null, ` ${p.name}`),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' },
          h('span', { class: 'bar-fill', style: { '--c': p.colour, width: `${(p.talk / max) * 100}%` } })),
        h('span', { class: 'bar-value' }, `${fmtDuration(p.talk)} · ${share}% · ${p.turns} turn${p.turns === 1 ? '' : 's'}`));
    }));
    const s = store.stats;
    if (s) {
      const turns = s.turns.length;
      summary.textContent = total
        ? `Balance: ${balanceWords(s.gini)} (Gini ${s.gini.toFixed(2)}; 0 is equal). ${turns} turn${turns === 1 ? '' : 's'} so far.`
        : 'Nobody has spoken yet.';
    }
  }

  function drawTally() {
    const f = store.floor;
    if (f?.state !== 'held') {
      render(tallyBox, h('p', { class: 'hint' }, 'Reactions are counted while someone has the floor.'));
      return;
    }
    render(tallyBox,
      h('p', { class: 'hint' }, `${store.nameOf(f.holder)}'s turn`),
      h('ul', { class: 'tally big', id: 'fac-tally-list' }, REACTIONS.map((r) => h('li', { class: f.tally[r.kind] ? 'has' : 'zero', data: { reaction: r.kind } },
        icon(r.icon), ` ${r.label}: ${f.tally[r.kind]}`))));
  }

  render(reportBox,
    h('button', { type: 'button', id: 'report-json', on: { click: () => download('json') } }, icon('download'), ' Report (JSON)'),
    h('button', { type: 'button', id: 'report-csv', on: { click: () => download('csv') } }, icon('download'), ' Report (CSV)'),
    h('a', { class: 'button', id: 'open-reports', href: reportUrl(), target: '_blank', rel: 'noopener' }, 'Session reports (this and past sessions)'));

  async function download(kind) {
    const stats = await actions.freshStats();
    if (!stats) return;
    const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
    const base = `talkstick-${store.roomId}-${stamp}`;
    if (kind === 'json') {
      const report = { room: store.roomId, generated_at: new Date().toISOString(), settings: store.settings, stats, per_person: perPerson(stats) };
      saveFile(`${base}.json`, JSON.stringify(report, null, 2), 'application/json');
    } else {
      saveFile(`${base}.csv`, toCsv(perPerson(stats)), 'text/csv');
    }
  }

  let timer = null;
  function poll() {
    clearInterval(timer);
    if (!store.isFacilitator) return;
    actions.getStats();
    timer = setInterval(actions.getStats, STATS_POLL_MS);
  }

  store.on('joined', poll);
  store.on('stats', drawChart);
  let holder = null;
  store.on('floor', onFrame(() => {
    if (!store.isFacilitator) return;
    drawTally();
    // The chart changes with the holder, not with each reaction.
    if (store.floor?.holder !== holder) { holder = store.floor?.holder; drawChart(); }
  }));
  document.getElementById('facilitator-panel').addEventListener('tabshown', drawChart);
  return { tick: () => store.isFacilitator && store.floor?.state === 'held' && drawChart() };
}

/** One row per person, with the reactions they received counted from the turns. */
export function perPerson(stats) {
  return stats.people.map((p) => {
    const received = Object.fromEntries(REACTIONS.map((r) => [r.kind, 0]));
    for (const t of stats.turns) {
      if (t.holder !== p.participant) continue;
      for (const r of REACTIONS) received[r.kind] += t.tally[r.kind] || 0;
    }
    return {
      participant: p.participant, name: p.name, colour: p.colour, present: p.present,
      talk_seconds: Math.round(p.talk_ms / 100) / 10, turns: p.turns,
      reactions_given: p.reactions_given, reactions_received: p.reactions_received,
      ...Object.fromEntries(REACTIONS.map((r) => [`received_${r.kind}`, received[r.kind]])),
      wait_seconds: Math.round(p.wait_ms / 100) / 10,
    };
  });
}

export function toCsv(rows) {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]);
  const cell = (v) => {
    let s = String(v ?? '');
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // never a formula in a spreadsheet
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}
