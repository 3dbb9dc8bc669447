// The client's logic without a browser: the room store, the connection's join /
// resume / seq / reconnect rules against a fake WebSocket, tokens, and the report.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Store, floorAnnouncement } from '../../web/state.js';
import { Connection } from '../../web/connection.js';
import { Rooms } from '../../web/rooms.js';
import { decodeClaims, looksExpired } from '../../web/token.js';
import { toCsv, perPerson } from '../../web/views/stats.js';
import { errorText, REACTIONS, HAND_KINDS } from '../../web/labels.js';
import { ICON_NAMES, MEANINGS } from '../../web/icons.js';
import { reconnectWords, reconnectedWords, PLACE_KEPT_MS } from '../../web/views/status.js';
import { qrCode } from '../../web/qr.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const tally = { agree: 0, disagree: 0, question: 0, applause: 0, slower: 0, cant_hear: 0 };
const person = (id, name, extra = {}) => ({
  id, name, initials: name[0], colour: '#E69F00', role: 'learner', presence: 'present', connected: true,
  mic_on: false, force_muted: false, push_to_talk: false, speaking: false, audio: false, ...extra,
});
const floor = (extra = {}) => ({
  state: 'free', holder: null, offered_to: null, offer_expires_ms: null, turn: null, since_ms: 0,
  ends_ms: null, open: true, tally, now_ms: 1000, ...extra,
});
const welcome = (me = 2, queue = [], fl = floor(), resumed = false) => ({
  seq: 5, type: 'welcome', protocol: 1,
  you: { id: me, role: 'learner', resume_token: 'R1', resumed },
  room: {
    id: 'demo', now_ms: 1000, settings: { mode: 'open', policy: 'fifo', offer_timeout_ms: 10000, warning_ms: 15000 },
    participants: [person(1, 'Facilitator', { role: 'facilitator' }), person(2, 'Aino'), person(3, 'Bertil')],
    queue, floor: fl, audio_slots: 3,
  },
});

describe('the room store', () => {
  it('keeps a learner\'s own note, which queue broadcasts never carry', () => {
    const s = new Store();
    s.apply(welcome());
    s.rememberNote('  my point  ');
    // Someone else's hand arrives first: the pending note must survive it.
    s.apply({ seq: 6, type: 'queue', hands: [{ participant: 3, position: 1, kind: 'reply', raised_ms: 1 }] });
    assert.equal(s.myNote, null);
    s.apply({ seq: 7, type: 'queue', hands: [
      { participant: 3, position: 1, kind: 'reply', raised_ms: 1 },
      { participant: 2, position: 2, kind: 'new_point', raised_ms: 2 }] });
    assert.equal(s.myNote, 'my point');
    assert.equal(s.myHand().position, 2);
    s.apply({ seq: 8, type: 'queue', hands: [{ participant: 2, position: 1, kind: 'new_point', raised_ms: 2 }] });
    assert.equal(s.myNote, 'my point', 'still mine after moving up');
    s.apply({ seq: 9, type: 'queue', hands: [] });
    assert.equal(s.myNote, null);
  });

  it('takes the own note from the welcome after a reload', () => {
    const s = new Store();
    s.apply(welcome(2, [{ participant: 2, position: 1, kind: 'reply', raised_ms: 1, note: 'from the server' }], floor(), true));
    assert.equal(s.myNote, 'from the server');
  });

  it('knows when the floor is offered to me, with the deadline, and announces it', () => {
    const s = new Store();
    s.apply(welcome());
    const said = [];
    s.on('floor', (d) => said.push(d.announce));
    const offers = [];
    s.on('offer', (d) => offers.push(d));
    s.apply({ seq: 6, type: 'floor', floor: floor({ state: 'offered', offered_to: 2, offer_expires_ms: 11000, open: false, now_ms: 1000 }) });
    assert.ok(s.offeredToMe());
    const left = s.offerDeadline - performance.now();
    assert.ok(left > 9000 && left <= 10000, `about 10 s left (${left})`);
    assert.match(said.at(-1), /You're up/);
    assert.equal(offers.length, 1);
    s.apply({ seq: 7, type: 'floor', floor: floor({ state: 'held', holder: 2, turn: 1, open: false }) });
    assert.equal(s.offerDeadline, null);
    assert.equal(said.at(-1), 'You have the floor.');
    assert.ok(s.iHoldFloor());
  });

  it('counts reactions toward the current turn and shows them on the sender', () => {
    const s = new Store();
    s.apply(welcome(2, [], floor({ state: 'held', holder: 3, turn: 4, open: false })));
    s.apply({ seq: 6, type: 'reaction', from: 1, reaction: 'agree', turn: 4, tally: { ...tally, agree: 1 } });
    assert.equal(s.floor.tally.agree, 1);
    assert.equal(s.recentReaction(1).kind, 'agree');
    assert.equal(s.recentReaction(3), null);
  });

  it('tells the learner when a facilitator mutes them', () => {
    const s = new Store();
    s.apply(welcome());
    const notes = [];
    s.on('notice', (n) => notes.push(n.text));
    s.apply({ seq: 6, type: 'participant_updated', participant: person(2, 'Aino', { force_muted: true }) });
    assert.match(notes.at(-1), /facilitator muted you/);
  });
});

describe('floor announcements', () => {
  const s = { me: { id: 2 }, nameOf: (id) => ({ 1: 'Facilitator', 3: 'Bertil' })[id] };
  it('says who has the floor, and nothing when nothing changed', () => {
    assert.equal(floorAnnouncement(floor(), floor({ state: 'held', holder: 3 }), s), 'Bertil has the floor.');
    assert.equal(floorAnnouncement(floor({ state: 'held', holder: 3 }), floor({ state: 'held', holder: 3 }), s), null);
    assert.match(floorAnnouncement(floor({ state: 'held', holder: 3, open: false }), floor({ state: 'held', holder: 3, open: true }), s), /Floor open/);
    assert.match(floorAnnouncement(floor({ state: 'held', holder: 3 }), floor({ state: 'discussion' }), s), /discussion/);
  });
});

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    queueMicrotask(() => { this.readyState = 1; this.onopen?.(); });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
  serverSays(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
}

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), m };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('the connection', () => {
  it('joins, stores the resume token per join token, and resumes after a drop', async () => {
    FakeSocket.all = [];
    const storage = memoryStorage();
    const c = new Connection({ token: 'T', url: 'ws://x/ws', storage, WebSocketImpl: FakeSocket });
    const statuses = [];
    c.onStatus((s) => statuses.push(s.state));
    c.start();
    await tick();
    const first = FakeSocket.all[0];
    assert.deepEqual(first.sent[0], { type: 'join', v: 1, token: 'T' });
    first.serverSays(welcome());
    assert.equal(storage.getItem('talkstick:resume:T'), 'R1');
    assert.ok(c.joined);
    assert.equal(c.send('raise_hand', { kind: 'reply' }), 1);
    first.drop();
    assert.equal(c.status.state, 'reconnecting');
    assert.equal(c.send('lower_hand'), null, 'nothing is sent while offline');
    await new Promise((r) => setTimeout(r, 700)); // first backoff step: 0.4–0.6 s
    const second = FakeSocket.all[1];
    assert.deepEqual(second.sent[0], { type: 'join', v: 1, token: 'T', resume: 'R1' });
    second.serverSays({ ...welcome(), seq: 9, you: { ...welcome().you, resumed: true } });
    assert.equal(c.status.state, 'joined');
    assert.equal(c.status.rejoined, true);
    c.stop('test');
    assert.deepEqual(statuses.slice(0, 4), ['idle', 'connecting', 'joined', 'reconnecting']);
  });

  it('reconnects for a fresh snapshot when a seq is skipped, exactly once', async () => {
    FakeSocket.all = [];
    const c = new Connection({ token: 'T', url: 'ws://x/ws', storage: memoryStorage(), WebSocketImpl: FakeSocket });
    const got = [];
    c.on('*', (m) => got.push(m.type));
    c.start();
    await tick();
    FakeSocket.all[0].serverSays(welcome());
    FakeSocket.all[0].serverSays({ seq: 6, type: 'queue', hands: [] });
    FakeSocket.all[0].serverSays({ seq: 6, type: 'pong' });
    FakeSocket.all[0].serverSays({ seq: 9, type: 'floor', floor: floor() });
    assert.deepEqual(got, ['welcome', 'queue', 'pong'], 'the message after the gap is not applied');
    await tick();
    assert.equal(FakeSocket.all.length, 2);
    assert.equal(FakeSocket.all[1].sent[0].resume, 'R1');
    FakeSocket.all[1].serverSays({ ...welcome(), seq: 9 });
    assert.ok(c.joined);
    assert.deepEqual(got, ['welcome', 'queue', 'pong', 'welcome']);
    await tick();
    assert.equal(FakeSocket.all.length, 2, 'no further reconnects');
    c.stop('test');
  });

  it('stops for good on a refused token, and forgets the resume token', async () => {
    FakeSocket.all = [];
    const storage = memoryStorage();
    storage.setItem('talkstick:resume:T', 'OLD');
    const c = new Connection({ token: 'T', url: 'ws://x/ws', storage, WebSocketImpl: FakeSocket });
    c.start();
    await tick();
    FakeSocket.all[0].serverSays({ seq: 0, type: 'error', code: 'token_expired', message: 'the token expired' });
    FakeSocket.all[0].drop(4001);
    assert.equal(c.status.state, 'stopped');
    assert.equal(c.status.code, 'token_expired');
    assert.equal(storage.getItem('talkstick:resume:T'), null);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(FakeSocket.all.length, 1, 'no retry');
  });

  it('does not fight another tab that took over the identity (close 4002)', async () => {
    FakeSocket.all = [];
    const c = new Connection({ token: 'T', url: 'ws://x/ws', storage: memoryStorage(), WebSocketImpl: FakeSocket });
    c.start();
    await tick();
    FakeSocket.all[0].serverSays(welcome());
    FakeSocket.all[0].serverSays({ seq: 5, type: 'goodbye', reason: 'you joined again from another connection' });
    FakeSocket.all[0].drop(4002);
    assert.equal(c.status.state, 'stopped');
    assert.equal(c.status.reason, 'replaced');
  });
});

describe('the rooms of a page during breakouts', () => {
  const groups = (members) => ({
    round: 1, opened_ms: 1000, ends_ms: null,
    groups: [
      { no: 1, name: 'Pricing', room: 'demo.1.1', members, leads: [], open: true },
      { no: 2, name: 'Onboarding', room: 'demo.1.2', members: [3], leads: [], open: true },
    ],
  });
  const make = (storage) => (opts) => new Connection({ ...opts, url: 'ws://x/ws', storage, WebSocketImpl: FakeSocket });
  /** A page whose plenary put it in group 1, welcomed there. */
  const inGroupOne = async () => {
    FakeSocket.all = [];
    const rooms = new Rooms({ token: 'T', makeConnection: make(memoryStorage()) });
    const switches = [];
    rooms.onSwitch((w) => switches.push(w?.room ?? 'plenary'));
    rooms.start();
    await tick();
    const plenary = FakeSocket.all[0];
    plenary.serverSays({ ...welcome(), room: { ...welcome().room, breakouts: groups([2]) } });
    await tick();
    const group = FakeSocket.all[1];
    group.serverSays({ ...welcome(), room: { ...welcome().room, id: 'demo.1.1' } });
    return { rooms, switches, plenary, group };
  };

  it('follows the plenary into a group, hears only the group there (and the plenary\'s breakout news), and comes back', async () => {
    FakeSocket.all = [];
    const rooms = new Rooms({ token: 'T', makeConnection: make(memoryStorage()) });
    const got = [];
    const switches = [];
    rooms.on('*', (m) => got.push(`${m.type}${m.room?.id ? `:${m.room.id}` : ''}`));
    rooms.onSwitch((w) => switches.push(w?.room ?? 'plenary'));
    rooms.start();
    await tick();
    const plenary = FakeSocket.all[0];
    plenary.serverSays(welcome());
    assert.equal(rooms.inGroup, null);
    // The plenary puts me (2) in group 1: a second socket joins it with the same link.
    plenary.serverSays({ seq: 6, type: 'breakouts', breakouts: groups([2]) });
    await tick();
    const group = FakeSocket.all[1];
    assert.deepEqual(group.sent[0], { type: 'join', v: 1, token: 'T', group: 'demo.1.1' });
    // Until the group's welcome, the page is in the plenary.
    plenary.serverSays({ seq: 7, type: 'queue', hands: [] });
    assert.deepEqual(switches, []);
    group.serverSays({ ...welcome(), room: { ...welcome().room, id: 'demo.1.1' } });
    assert.deepEqual(switches, ['demo.1.1']);
    assert.equal(rooms.inGroup, 'demo.1.1');
    // In the group: the plenary's floor news is not shown, its breakout news is.
    plenary.serverSays({ seq: 8, type: 'floor', floor: floor() });
    plenary.serverSays({ seq: 9, type: 'notice', kind: 'breakout', message: 'Fran: five minutes' });
    group.serverSays({ seq: 6, type: 'queue', hands: [] });
    assert.deepEqual(got, ['welcome:demo', 'breakouts', 'queue', 'welcome:demo.1.1', 'notice', 'queue']);
    assert.ok(rooms.send('raise_hand', { kind: 'reply' }));
    assert.equal(group.sent.at(-1).type, 'raise_hand', 'actions go to the group');
    // Everyone called back: the group is left, and a fresh plenary snapshot switches back.
    plenary.serverSays({ seq: 10, type: 'breakouts', breakouts: null });
    assert.equal(group.sent.at(-1).type, 'leave');
    await tick();
    const again = FakeSocket.all[2];
    assert.equal(again.sent[0].resume, 'R1', 'the plenary identity resumes');
    again.serverSays({ ...welcome(), seq: 11, you: { ...welcome().you, resumed: true } });
    assert.deepEqual(switches, ['demo.1.1', 'plenary']);
    assert.equal(rooms.inGroup, null);
    rooms.stop('test');
  });

  it('goes back to the plenary when a group refuses or sends it out, and a facilitator visits any group', async () => {
    const { rooms, switches, plenary, group } = await inGroupOne();
    group.drop(4005); // moved out before the plenary's word arrived
    assert.equal(group.readyState, 3);
    await tick();
    assert.equal(FakeSocket.all.length, 2, 'the plenary\'s word is awaited');
    plenary.serverSays({ seq: 6, type: 'breakouts', breakouts: groups([]) });
    await tick();
    const back = FakeSocket.all[2];
    back.serverSays({ ...welcome(), seq: 12, room: { ...welcome().room, breakouts: groups([]) } });
    assert.deepEqual(switches, ['demo.1.1', 'plenary']);
    // A facilitator's visit: listen in on group 2.
    rooms.goTo('demo.1.2', { listen: true });
    await tick();
    const visit = FakeSocket.all[3];
    assert.deepEqual(visit.sent[0], { type: 'join', v: 1, token: 'T', group: 'demo.1.2', listen: true });
    visit.serverSays({ seq: 0, type: 'error', code: 'not_in_group', message: 'you are not in demo.1.2' });
    assert.equal(rooms.inGroup, null, 'refused: still in the plenary');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(FakeSocket.all.length, 4, 'no retries of a group that refused');
    rooms.stop('test');
  });

  it('goes from one group to the next without passing through the plenary when the move closes the old group first', async () => {
    const { rooms, switches, plenary } = await inGroupOne();
    FakeSocket.all[1].drop(4005);
    await tick();
    assert.equal(FakeSocket.all.length, 2, 'no detour through the plenary');
    assert.equal(rooms.inGroup, null, 'the old group is gone');
    const moved = groups([]);
    moved.groups[1].members = [3, 2];
    plenary.serverSays({ seq: 6, type: 'breakouts', breakouts: moved });
    await tick();
    assert.deepEqual(FakeSocket.all[2].sent[0], { type: 'join', v: 1, token: 'T', group: 'demo.1.2' });
    FakeSocket.all[2].serverSays({ ...welcome(), room: { ...welcome().room, id: 'demo.1.2' } });
    assert.deepEqual(switches, ['demo.1.1', 'demo.1.2']);
    assert.equal(rooms.inGroup, 'demo.1.2');
    rooms.stop('test');
  });

  it('goes back to the plenary when sent out of a group on its way to another, and waits at most 3 s for the plenary\'s word', async () => {
    const { rooms, switches, plenary, group } = await inGroupOne();
    group.drop(4005);
    await tick();
    const moved = groups([]);
    moved.groups[1].members = [3, 2];
    plenary.serverSays({ seq: 6, type: 'breakouts', breakouts: moved });
    await tick();
    assert.equal(FakeSocket.all[2].sent[0].group, 'demo.1.2', 'on its way to group 2');
    // Before group 2's welcome, the plenary's word is: nowhere. Back, not stuck on group 1.
    plenary.serverSays({ seq: 7, type: 'breakouts', breakouts: groups([]) });
    await tick();
    const back = FakeSocket.all[3];
    assert.equal(back.sent[0].resume, 'R1', 'a fresh plenary snapshot');
    back.serverSays({ ...welcome(), seq: 12, room: { ...welcome().room, breakouts: groups([]) } });
    assert.deepEqual(switches, ['demo.1.1', 'plenary']);
    rooms.stop('test');
    // Sent out with no word at all (the plenary's connection is down, say): back after 3 s.
    const second = await inGroupOne();
    second.group.drop(4005);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(FakeSocket.all.length, 2, 'still waiting for the word');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(FakeSocket.all.length, 3, 'gave up waiting: a fresh plenary snapshot');
    FakeSocket.all[2].serverSays({ ...welcome(), seq: 9, room: { ...welcome().room, breakouts: groups([]) } });
    assert.deepEqual(second.switches, ['demo.1.1', 'plenary']);
    second.rooms.stop('test');
  });

  it('goes back to the plenary when the group it moves to refuses it', async () => {
    const { rooms, switches } = await inGroupOne();
    // Moved to group 2, which does not have us (yet): the page must not stay on group 1.
    const moved = groups([]);
    moved.groups[1].members = [3, 2];
    FakeSocket.all[0].serverSays({ seq: 6, type: 'breakouts', breakouts: moved });
    await tick();
    FakeSocket.all[2].serverSays({ seq: 0, type: 'error', code: 'not_in_group', message: 'not yet' });
    await tick();
    assert.equal(FakeSocket.all.length, 4, 'a fresh plenary snapshot is asked for');
    FakeSocket.all[3].serverSays({ ...welcome(), seq: 9, room: { ...welcome().room, breakouts: groups([]) } });
    assert.deepEqual(switches, ['demo.1.1', 'plenary']);
    assert.equal(rooms.inGroup, null);
    rooms.stop('test');
  });
});

describe('tokens and words', () => {
  it('reads the name from a token for display, UTF-8 included', () => {
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const t = `${b64({ alg: 'HS256' })}.${b64({ room: 'r', name: 'Äino Ørsted', role: 'facilitator', exp: 10 })}.sig`;
    assert.deepEqual(decodeClaims(t), { room: 'r', name: 'Äino Ørsted', role: 'facilitator', exp: 10 });
    assert.equal(decodeClaims('nope'), null);
    assert.equal(decodeClaims('a.b.c'), null);
    assert.ok(looksExpired({ exp: 10 }));
    assert.ok(!looksExpired({ exp: Date.now() / 1000 + 60 }));
    assert.equal(errorText('token_expired'), 'This link has expired — ask your facilitator for a new one.');
    assert.equal(errorText('some_new_code', 'server words'), 'server words');
  });
});

describe('the session report', () => {
  const stats = {
    now_ms: 5000, gini: 0.5,
    people: [
      { participant: 2, name: '=Aino, "the" first', colour: '#56B4E9', present: true, talk_ms: 12345, turns: 1, reactions_given: 0, reactions_received: 2, wait_ms: 3000 },
      { participant: 3, name: 'Bertil', colour: '#009E73', present: false, talk_ms: 0, turns: 0, reactions_given: 2, reactions_received: 0, wait_ms: 0 },
    ],
    turns: [{ turn: 1, holder: 2, start_ms: 0, end_ms: 12345, ended: 'yielded', tally: { ...tally, agree: 1, disagree: 1 } }],
  };
  it('counts reactions received per kind and escapes CSV safely', () => {
    const rows = perPerson(stats);
    assert.equal(rows[0].received_agree, 1);
    assert.equal(rows[0].talk_seconds, 12.3);
    const csv = toCsv(rows);
    const lines = csv.trim().split('\r\n');
    assert.equal(lines.length, 3);
    assert.ok(lines[1].startsWith('2,"\'=Aino, ""the"" first",#56B4E9,true,12.3,1,'), lines[1]);
  });
});

describe('icons', () => {
  it('has one meaning per icon and one icon per meaning', () => {
    assert.deepEqual([...ICON_NAMES].sort(), Object.keys(MEANINGS).sort(), 'every icon says what it means');
    const meanings = Object.values(MEANINGS);
    assert.equal(new Set(meanings).size, meanings.length, 'no two icons share a meaning');
  });

  it('gives every reaction and hand kind an icon of its own', () => {
    const used = [...REACTIONS.map((r) => r.icon), ...Object.values(HAND_KINDS).map((k) => k.icon)];
    for (const name of used) assert.ok(ICON_NAMES.includes(name), name);
    assert.equal(new Set(used).size, used.length, 'no icon stands for two reactions or hand kinds');
    const cantHear = REACTIONS.find((r) => r.kind === 'cant_hear').icon;
    assert.notEqual(cantHear, 'mic-off', '"can\'t hear" is not "mic off"');
    assert.equal(MEANINGS[cantHear], "can't hear the speaker");
  });
});

describe('honest reconnects', () => {
  const status = (extra) => ({ state: 'reconnecting', attempt: 2, retryAt: 10_000, everJoined: true, reason: 'dropped', lostAt: 1_000, ...extra });

  it('promises a kept place only while the server can keep it', () => {
    const early = reconnectWords(status(), 5_000);
    assert.match(early.text, /kept for 30 seconds/);
    assert.match(early.when, /^26 s left\. Trying again in 5 s\.$/);
    const late = reconnectWords(status(), 1_000 + PLACE_KEPT_MS + 1);
    assert.doesNotMatch(late.text, /kept/);
    assert.match(late.text, /more than 30 seconds/);
    assert.match(reconnectWords(status({ everJoined: false, lostAt: null }), 5_000).text, /Can't reach/);
  });

  it('says plainly when the server restarted without the room', () => {
    assert.match(reconnectedWords({ resumed: true, hadHand: true, offlineMs: 3_000 }).text, /kept your place/);
    const restarted = reconnectedWords({ resumed: false, hadHand: true, offlineMs: 3_000 });
    assert.match(restarted.text, /server restarted/);
    assert.match(restarted.text, /raised hand was lost/);
    assert.equal(restarted.kind, 'warn');
    const late = reconnectedWords({ resumed: false, hadHand: false, offlineMs: 45_000 });
    assert.match(late.text, /more than 30 seconds/);
    assert.doesNotMatch(late.text, /restarted/);
  });

  it('stops the room clock while disconnected', () => {
    const s = new Store();
    s.on_welcome(welcome());
    s.freeze(true);
    const a = s.roomNow();
    const until = performance.now() + 30;
    while (performance.now() < until) { /* let time pass */ }
    assert.equal(s.roomNow(), a, 'frozen');
    s.freeze(false);
    assert.ok(s.roomNow() > a, 'running again');
  });
});

describe('announcements said once', () => {
  it('says "you\'re up" once per offer, whichever message comes first', () => {
    const s = new Store();
    const said = [];
    s.on('floor', (d) => { if (d?.announce) said.push(d.announce); });
    s.on_welcome(welcome());
    said.length = 0;
    const offered = floor({ state: 'offered', offered_to: 2, offer_expires_ms: 11000, open: false });
    s.on_floor({ floor: offered });
    s.on_youre_up({ expires_in_ms: 10000 });
    assert.equal(s.sayOnce('up:11000'), false, 'the offer message finds it said');
    s.on_floor({ floor: { ...offered, tally } });
    assert.deepEqual(said.filter((t) => /You're up/.test(t)).length, 1);
  });

  it('says "floor open" once per pause, not after every breath', () => {
    const s = new Store();
    const said = [];
    s.on('floor', (d) => { if (d?.announce) said.push(d.announce); });
    s.on_welcome(welcome());
    const held = (open) => floor({ state: 'held', holder: 3, turn: 4, open });
    s.on_floor({ floor: held(false) });
    for (let i = 0; i < 5; i += 1) { s.on_floor({ floor: held(true) }); s.on_floor({ floor: held(false) }); }
    assert.equal(said.filter((t) => /Floor open/.test(t)).length, 1);
    // A new turn may say it again.
    s.on_floor({ floor: floor({ state: 'held', holder: 1, turn: 5, open: false }) });
    s.on_floor({ floor: floor({ state: 'held', holder: 1, turn: 5, open: true }) });
    assert.equal(said.filter((t) => /Floor open/.test(t)).length, 2);
  });
});

describe('QR codes', () => {
  /** Draws the code as a grey-map image and reads it back with zbar. */
  function readBack(q, dir) {
    const scale = 3;
    const n = (q.size + 8) * scale;
    const rows = [];
    for (let y = 0; y < n; y++) {
      const row = [];
      for (let x = 0; x < n; x++) {
        const mx = Math.floor(x / scale) - 4;
        const my = Math.floor(y / scale) - 4;
        row.push(mx >= 0 && my >= 0 && mx < q.size && my < q.size && q.dark(mx, my) ? 0 : 255);
      }
      rows.push(row.join(' '));
    }
    const file = path.join(dir, 'code.pgm');
    writeFileSync(file, `P2\n${n} ${n}\n255\n${rows.join('\n')}\n`);
    return execFileSync('zbarimg', ['-q', '--raw', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\n$/, '');
  }

  it('encodes links of every length a link has, and zbar reads back each exactly', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'talkstick-qr-'));
    try {
      const link = 'http://127.0.0.1:8080/?token=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJyb29tIjoiZGVtbyIsIm5hbWUiOiJBaW5vIFZpcnRhbmVuIiwicm9sZSI6ImxlYXJuZXIiLCJleHAiOjE3OTYzMzAwODN9.Qx7l5Yb0kDqJ8pQn3c-2zZ0m1s4t6v8w9x0y1z2a3b4';
      const texts = ['hi', link, `${link}&ice=relay`, 'Ääkköset ja €', 'x'.repeat(600), 'y'.repeat(1500)];
      const versions = [];
      for (const t of texts) {
        const q = qrCode(t);
        versions.push(q.version);
        assert.equal(q.size, q.version * 4 + 17);
        assert.equal(readBack(q, dir), t);
      }
      // Byte-mode capacities at level M for versions 1-12, from the standard's table.
      const capacity = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287];
      const smallest = (t) => capacity.findIndex((c) => c >= new TextEncoder().encode(t).length) + 1;
      assert.deepEqual(versions.slice(0, 4), texts.slice(0, 4).map(smallest), 'the smallest version that holds the text');
      assert.ok(versions.at(-1) >= 30, 'large versions (with version information) too');
      assert.throws(() => qrCode('z'.repeat(3000)), /too long/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

