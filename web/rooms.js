// The page's rooms: the plenary connection, always open, and while breakout groups run,
// a second connection to the person's group. The rest of the page talks to one object
// with the connection's interface (`on`, `onStatus`, `send`, `joined`, …) that follows
// whichever room the person is in now.
//
// Why two connections rather than moving one: the plenary keeps the person's identity,
// colour and hand while they are away, and its warnings, notices and "call everyone
// back" must reach them wherever they are. A page in a group hears the plenary only for
// those (`breakouts` and breakout notices); everything else comes from the group.
//
// The switch happens when the new room's welcome arrives, not before: the page shows the
// old room until the new one is there, then `switched` listeners run (after the welcome
// has been applied), so audio can start over at once.

import { Connection } from './connection.js';

/** Plenary messages a page in a group still hears. */
const ALWAYS = new Set(['breakouts']);
const ALWAYS_NOTICES = new Set(['breakout', 'breakout_ending', 'help_asked', 'help_answered']);
/** How long a page sent out of its group waits for the plenary's word on where to. */
const MOVED_WAIT_MS = 3000;

export class Rooms {
  constructor({ token, makeConnection = (opts) => new Connection(opts) }) {
    this.token = token;
    this.make = makeConnection;
    this.plenary = this.make({ token });
    this.groupConn = null; // {room, listen, conn}
    this.active = this.plenary;
    this.handlers = new Map();
    this.statusHandlers = new Set();
    this.switchHandlers = new Set();
    this.breakoutHandlers = new Set();
    this.breakouts = null; // the plenary's latest view of its groups
    this.plenaryMe = null; // my id in the plenary
    this.plenaryRole = null;
    this.plenaryPeople = new Map(); // plenary id -> {name, colour}
    this.visit = null; // {room, listen}: a facilitator's chosen group
    this.asked = new Set(); // ids of messages sent to the plenary from anywhere
    this.plenary.on('*', (m) => this.fromPlenary(m));
    this.plenary.onStatus((s) => {
      // The plenary ending (left, removed, session ended) ends the page, wherever it is.
      if (s.state === 'stopped') this.dropGroup();
      if (this.active === this.plenary || s.state === 'stopped') this.setStatus(s);
    });
  }

  // ---- the connection's interface, for the rest of the page ----

  get joined() { return this.active.joined; }
  get status() { return this.active.status; }
  get offlineMs() { return this.active.offlineMs; }
  get resumeToken() { return this.plenary.resumeToken; }
  get seq() { return this.active.seq; }
  get ws() { return this.active.ws; }
  /** Feeds a raw frame to the room the page shows (tests use it to fake a gap). */
  receive(data) { this.active.receive(data); }
  /** The connection of the room the page is in now. Audio binds to it rather than to
   *  this object: an offer made for one room must never reach another (switching again
   *  while an offer was being made sent it to the next room, which then refused the
   *  page's own offer a moment later as one too many). */
  current() { return this.active; }
  /** The group room the page is in now, or null (the plenary). */
  get inGroup() { return this.active === this.plenary ? null : this.groupConn?.room ?? null; }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  onStatus(fn) {
    this.statusHandlers.add(fn);
    fn(this.status);
    return () => this.statusHandlers.delete(fn);
  }

  /** True while the welcome of a room the page moves into is being applied. */
  get switching() { return !!this.switchingNow || !!this.pendingSwitch; }
  /** Called when the page starts moving to another room (before it leaves this one). */
  onBeforeSwitch(fn) { this.beforeHandlers = this.beforeHandlers || new Set(); this.beforeHandlers.add(fn); }
  /** Called after the page moved to another room and has applied its welcome. */
  onSwitch(fn) { this.switchHandlers.add(fn); return () => this.switchHandlers.delete(fn); }
  /** Called with the plenary's groups whenever they change (null: none open). */
  onBreakouts(fn) { this.breakoutHandlers.add(fn); return () => this.breakoutHandlers.delete(fn); }

  send(type, fields) { return this.active.send(type, fields); }
  /** Sends to the plenary wherever the page is (a facilitator's breakout controls);
   *  an error answering it reaches the page even from a group. */
  sendPlenary(type, fields) {
    const id = this.plenary.send(type, fields);
    if (id !== null) {
      this.asked.add(id);
      if (this.asked.size > 64) this.asked.delete(this.asked.values().next().value);
    }
    return id;
  }

  /** The plenary's clock now, in ms (its `*_ms` times count on it). */
  plenaryNow() { return performance.now() + (this.plenaryOffset ?? 0); }
  start() { this.plenary.start(); }
  retryNow() { this.active.retryNow(); }
  resync() { this.active.resync(); }

  leave() {
    this.dropGroup();
    this.plenary.leave();
  }

  stop(reason, extra) {
    this.dropGroup();
    this.plenary.stop(reason, extra);
  }

  /** A facilitator goes into a group (`listen`: without being heard), or back (null). */
  goTo(room, { listen = false } = {}) {
    this.visit = room ? { room, listen } : null;
    this.follow();
  }

  // ---- internals ----

  emit(msg) {
    for (const key of [msg.type, '*']) {
      for (const fn of this.handlers.get(key) || []) {
        try { fn(msg); } catch (e) { console.error('handler for', msg.type, 'failed:', e); }
      }
    }
  }

  setStatus(s) {
    for (const fn of this.statusHandlers) fn(s);
  }

  fromPlenary(msg) {
    this.trackPlenary(msg);
    const here = this.active === this.plenary;
    const answer = msg.type === 'error' && this.asked.has(msg.re);
    if (here || answer || ALWAYS.has(msg.type) || (msg.type === 'notice' && ALWAYS_NOTICES.has(msg.kind))) this.emit(msg);
    if (msg.type === 'welcome' && here && this.pendingSwitch) {
      // Back from a group: the plenary's fresh snapshot is applied; the page switched.
      this.pendingSwitch = false;
      this.setStatus(this.plenary.status);
      this.switched(null);
    }
    if (msg.type === 'welcome') this.setBreakouts(msg.room?.breakouts ?? null);
    if (msg.type === 'breakouts') this.setBreakouts(msg.breakouts ?? null);
  }

  /** Keeps the plenary's names and colours, which group views and controls show. */
  trackPlenary(msg) {
    const now = msg.room?.now_ms ?? msg.floor?.now_ms;
    if (typeof now === 'number' && (msg.type === 'welcome' || msg.type === 'floor')) this.plenaryOffset = now - performance.now();
    if (msg.type === 'welcome') {
      this.plenaryMe = msg.you.id;
      this.plenaryRole = msg.you.role;
      this.plenaryPeople = new Map(msg.room.participants.map((p) => [p.id, p]));
    } else if (msg.type === 'participant_joined' || msg.type === 'participant_updated') {
      this.plenaryPeople.set(msg.participant.id, msg.participant);
    } else if (msg.type === 'participant_left') {
      this.plenaryPeople.delete(msg.participant);
    }
  }

  setBreakouts(b) {
    this.breakouts = b;
    for (const fn of this.breakoutHandlers) {
      try { fn(b); } catch (e) { console.error('breakouts view failed:', e); }
    }
    this.follow();
  }

  /** Where this person belongs now: their group by the plenary's word, else a group a
   *  facilitator chose to visit (while it is open), else the plenary. */
  target() {
    const groups = this.breakouts?.groups?.filter((g) => g.open) ?? [];
    const mine = groups.find((g) => g.members.includes(this.plenaryMe));
    if (mine && !this.visit) return { room: mine.room, listen: false };
    if (this.visit && groups.some((g) => g.room === this.visit.room)) return this.visit;
    if (mine) return { room: mine.room, listen: false };
    this.visit = null;
    return null;
  }

  follow() {
    const want = this.target();
    const have = this.groupConn;
    if (this.movedFrom) {
      if (want?.room === this.movedFrom) return; // the old word still: wait for the new
      this.movedFrom = null;
      clearTimeout(this.movedTimer);
    }
    if (want && have && have.room === want.room && have.listen === want.listen) return;
    if (!want && !have) {
      // Showing a group that sent us out, and the plenary puts us in none: back.
      if (this.active !== this.plenary) this.backToPlenary();
      return;
    }
    this.times = { asked: performance.now(), askedWall: Date.now() };
    for (const fn of this.beforeHandlers || []) fn(want);
    this.dropGroup();
    if (!want) {
      // Whatever group the page shows (the one it is in, or one that sent it out while
      // it was on its way to another), the plenary's word is: back.
      if (this.active !== this.plenary) this.backToPlenary();
      return;
    }
    const conn = this.make({ token: this.token, group: want.room, listen: want.listen });
    const entry = { ...want, conn };
    this.groupConn = entry;
    conn.on('*', (m) => this.fromGroup(entry, m));
    conn.onStatus((s) => {
      if (this.groupConn !== entry) return;
      if (s.state === 'stopped') {
        this.groupConn = null;
        const showing = this.active === conn || (this.active !== this.plenary && this.active.stopped);
        if (!showing) return;
        if (s.reason === 'moved') {
          // Sent out (4005) before the plenary's word arrived: it moved us, and says where
          // to in a moment. Wait for it rather than pass through the plenary on the way
          // (a resync, an audio offer there and a "back in the plenary" for nothing).
          this.movedFrom = entry.room;
          clearTimeout(this.movedTimer);
          this.movedTimer = setTimeout(() => {
            this.movedFrom = null;
            if (this.active !== this.plenary && !this.groupConn) this.backToPlenary();
          }, MOVED_WAIT_MS);
          return;
        }
        // Refused: back in the plenary until its word says otherwise (also when the page
        // still shows the group it was leaving for this one).
        this.backToPlenary();
        return;
      }
      if (this.active === conn) this.setStatus(s);
    });
    conn.start();
  }

  /** Leaves the group the page shows: a fresh snapshot of the plenary, then the switch. */
  backToPlenary() {
    this.active = this.plenary;
    this.pendingSwitch = true;
    this.plenary.resync();
  }

  fromGroup(entry, msg) {
    if (this.groupConn !== entry) return;
    if (msg.type === 'welcome' && this.active !== entry.conn) {
      this.active = entry.conn;
      this.switchingNow = true;
      try { this.emit(msg); } finally { this.switchingNow = false; }
      this.setStatus(entry.conn.status);
      this.switched({ room: entry.room, listen: entry.listen });
      return;
    }
    if (this.active === entry.conn) this.emit(msg);
  }

  switched(where) {
    if (this.times) this.times.welcomed = performance.now();
    for (const fn of this.switchHandlers) {
      try { fn(where); } catch (e) { console.error('switch handler failed:', e); }
    }
  }

  dropGroup() {
    clearTimeout(this.movedTimer);
    const g = this.groupConn;
    this.groupConn = null;
    if (!g) return;
    g.conn.send('leave');
    g.conn.stop('moved');
  }
}
