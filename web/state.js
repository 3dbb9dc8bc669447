// The local copy of the room, built from `welcome` and kept current by each event
// (protocol §11). Views subscribe to topics and re-render; nothing here touches the DOM.
//
// Topics: joined, people, queue, floor, settings, reaction, chat, stats, offer, notice, error.

import { reactionByKind } from './labels.js';

export const REACTION_SHOW_MS = 4000;
/** Chat messages a page keeps (as the server does for late joiners). */
export const CHAT_KEPT = 200;
/** Within one turn, "floor open" is not said again sooner than this. */
export const OPEN_AGAIN_MS = 20_000;

export class Store {
  constructor() {
    this.listeners = new Map();
    this.me = null; // {id, role}
    this.roomId = '';
    this.settings = null;
    this.people = new Map();
    this.queue = [];
    this.floor = null;
    this.offset = 0; // room clock minus performance.now()
    this.myNote = null;
    this.pendingNote = null;
    this.recent = new Map(); // participant id -> {kind, until}
    this.myReactions = new Set(); // kinds I reacted with during the current turn
    this.notes = new Map(); // participant id -> the last note their hand carried (as I may see it)
    this.turnNote = null; // {holder, turn, note}: the holder's note, kept for their turn
    this.noteOnHold = null; // my note while an offer to me decides between a turn and no turn
    this.stats = null;
    this.chat = []; // the room's latest chat messages, oldest first
    this.said = new Set(); // announcements already made once (see sayOnce)
    this.openSaid = null; // {turn, at}: when "floor open" was last said
    this.renderTimes = []; // ms each of the latest server messages took to apply and draw
    this.offerDeadline = null; // performance.now() time when an offer to me lapses
  }

  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
    return () => this.listeners.get(topic).delete(fn);
  }

  emit(topic, detail) {
    for (const fn of this.listeners.get(topic) || []) {
      try { fn(detail); } catch (e) { console.error(`view for ${topic} failed:`, e); }
    }
  }

  /** Wires the store to a connection's messages. */
  attach(conn) {
    conn.on('*', (msg) => this.apply(msg));
  }

  // ---- derived ----

  get joined() { return this.me !== null; }
  get isFacilitator() { return this.me?.role === 'facilitator'; }
  get self() { return this.me ? this.people.get(this.me.id) : undefined; }
  person(id) { return this.people.get(id); }
  nameOf(id) { return this.people.get(id)?.name ?? (id == null ? '' : `Participant ${id}`); }
  roomNow() { return (this.frozenAt ?? performance.now()) + this.offset; }
  /** Stops the room's clocks here (while disconnected) or lets them run again. */
  freeze(on) {
    if (on && this.frozenAt == null) this.frozenAt = performance.now();
    if (!on) this.frozenAt = null;
  }
  myHand() { return this.me ? this.queue.find((h) => h.participant === this.me.id) : undefined; }
  handOf(id) { return this.queue.find((h) => h.participant === id); }
  /** The hands still waiting, in order: the queue without the one offered the floor. */
  waiting() {
    const offered = this.floor?.state === 'offered' ? this.floor.offered_to : null;
    return this.queue.filter((h) => h.participant !== offered);
  }
  /** `{k, n}`: a waiting hand's place among the waiting hands (1-based), or null. */
  placeOf(id) {
    const waiting = this.waiting();
    const i = waiting.findIndex((h) => h.participant === id);
    return i < 0 ? null : { k: i + 1, n: waiting.length };
  }
  offeredToMe() { return this.floor?.state === 'offered' && this.floor.offered_to === this.me?.id; }
  iHoldFloor() { return this.floor?.state === 'held' && this.floor.holder === this.me?.id; }
  /** `{kind, age}` of the reaction `id` sent in the last few seconds, or `null`. */
  recentReaction(id) {
    const r = this.recent.get(id);
    const now = performance.now();
    return r && r.until > now ? { kind: r.kind, age: now - (r.until - REACTION_SHOW_MS) } : null;
  }

  /** True the first time for `key`: an announcement made once (a "you're up" per offer). */
  sayOnce(key) {
    if (this.said.has(key)) return false;
    this.said.add(key);
    if (this.said.size > 64) this.said.delete(this.said.values().next().value);
    return true;
  }

  /** What to read out for a floor change, at most once where once is enough: "you're
   *  up" once per offer, "floor open" once per pause and not again within a turn for
   *  OPEN_AGAIN_MS (a speaker who breathes is not announced each time). */
  announceFloor(prev, floor) {
    const text = floorAnnouncement(prev, floor, this);
    if (!text) return null;
    if (floor.state === 'offered' && floor.offered_to === this.me?.id) {
      return this.sayOnce(`up:${floor.offer_expires_ms}`) ? text : null;
    }
    if (floor.state === 'held' && floor.open && prev?.state === 'held' && prev.holder === floor.holder) {
      const now = performance.now();
      if (this.openSaid?.turn === floor.turn && now - this.openSaid.at < OPEN_AGAIN_MS) return null;
      this.openSaid = { turn: floor.turn, at: now };
    }
    return text;
  }

  /** Remembers the note sent with a raise, since learners never get it back. */
  rememberNote(note) {
    const trimmed = (note || '').trim();
    this.pendingNote = trimmed || null;
  }

  // ---- applying server messages ----

  sync(nowMs) {
    if (typeof nowMs === 'number') this.offset = nowMs - performance.now();
    this.frozenAt = null; // the room spoke: its clock runs again
  }

  /** Applies one server message and lets every view draw it; the time that takes is
   *  kept (`renderTimes`, the latest 500) so a test or a curious user can see that an
   *  update stays within a frame (16 ms). */
  apply(msg) {
    const fn = this[`on_${msg.type}`];
    if (!fn) return;
    const t0 = performance.now();
    fn.call(this, msg);
    const ms = performance.now() - t0;
    this.renderTimes.push(ms);
    if (this.renderTimes.length > 500) this.renderTimes.shift();
  }

  on_welcome({ you, room }) {
    const first = !this.me;
    if (!first && room.id !== this.roomId) {
      // Another room (a breakout group, or back to the plenary): nothing of the last
      // one carries over but the person.
      this.recent.clear();
      this.myReactions.clear();
      this.notes.clear();
      this.turnNote = null;
      this.noteOnHold = null;
      this.pendingNote = null;
      this.stats = null;
      this.chat = [];
    }
    this.me = { id: you.id, role: you.role };
    // TURN relays with fresh credentials, for the audio connection (none: direct).
    this.iceServers = you.ice_servers || [];
    this.roomId = room.id;
    this.audioSlots = room.audio_slots;
    this.sync(room.now_ms);
    this.settings = room.settings;
    this.people = new Map(room.participants.map((p) => [p.id, p]));
    this.queue = room.queue;
    const known = new Set(this.chat.map((m) => m.id));
    this.chat = room.chat || [];
    const mine = this.myHand();
    this.myNote = mine ? (mine.note ?? (you.resumed ? this.myNote : null)) : null;
    const prevFloor = first ? null : this.floor;
    this.floor = room.floor;
    this.offerDeadline = this.offeredToMe() ? this.toLocal(room.floor.offer_expires_ms) : null;
    this.emit('joined', { first, resumed: you.resumed });
    for (const t of ['settings', 'people', 'queue']) this.emit(t);
    this.emit('chat', { added: this.chat.filter((m) => !known.has(m.id)) });
    this.emit('floor', { announce: this.announceFloor(prevFloor, this.floor) });
    if (this.offerDeadline) this.emit('offer', { fresh: true });
  }

  on_participant_joined({ participant }) {
    this.people.set(participant.id, participant);
    this.emit('people', { joined: participant.id });
    this.emit('notice', { text: `${participant.name} joined`, quiet: true });
  }

  on_participant_updated({ participant }) {
    const before = this.people.get(participant.id);
    this.people.set(participant.id, participant);
    this.emit('people', { updated: participant.id });
    if (participant.id !== this.me?.id || !before) return;
    if (participant.force_muted && !before.force_muted) {
      this.emit('notice', { text: 'A facilitator muted you.', kind: 'warn' });
    } else if (!participant.force_muted && before.force_muted) {
      this.emit('notice', { text: 'A facilitator unmuted you. Turn your mic on when you want to speak.' });
    }
  }

  on_speaking({ participant, speaking }) {
    const p = this.people.get(participant);
    if (!p) return;
    this.people.set(participant, { ...p, speaking });
    this.emit('people', { speaking: participant });
  }

  on_participant_left({ participant, reason }) {
    const p = this.people.get(participant);
    this.people.delete(participant);
    this.recent.delete(participant);
    this.emit('people', { left: participant });
    if (p) {
      const why = reason === 'timed_out' ? ' (connection lost)' : '';
      this.emit('notice', { text: `${p.name} left${why}`, quiet: true });
    }
  }

  on_queue({ hands }) {
    const had = this.myHand();
    const hadNote = had ? (this.myNote ?? had.note ?? null) : null;
    this.queue = hands;
    for (const h of hands) if (h.note) this.notes.set(h.participant, h.note);
    const mine = this.myHand();
    // My hand ended: with a turn (I accepted) the note stays beside the banner; without
    // one (lowered, passed, lapsed, removed) it goes back into the note box.
    if (had && !mine && hadNote) {
      if (this.offeredToMe() || this.iHoldFloor()) this.noteOnHold = hadNote;
      else this.emit('noteBack', { note: hadNote });
    }
    if (!mine) {
      this.myNote = null; // a raise still on its way keeps its pending note
    } else if (mine.note !== undefined) {
      this.myNote = mine.note;
      this.pendingNote = null;
    } else if (this.pendingNote !== null) {
      this.myNote = this.pendingNote;
      this.pendingNote = null;
    }
    if (mine && this.myNote) this.notes.set(this.me.id, this.myNote);
    this.emit('queue');
    this.emit('people', { queue: true });
  }

  on_floor({ floor }) {
    const prev = this.floor;
    this.floor = floor;
    if (prev?.turn !== floor.turn) {
      this.myReactions.clear();
      // The new holder's note, for them and facilitators, for as long as the turn lasts.
      const note = floor.state === 'held' ? this.notes.get(floor.holder) : undefined;
      this.turnNote = note ? { holder: floor.holder, turn: floor.turn, note } : null;
      if (floor.state === 'held') this.notes.delete(floor.holder);
    }
    if (this.noteOnHold && !this.offeredToMe()) {
      if (!this.iHoldFloor()) this.emit('noteBack', { note: this.noteOnHold });
      this.noteOnHold = null;
    }
    this.sync(floor.now_ms);
    const wasOffered = this.offerDeadline !== null;
    this.offerDeadline = this.offeredToMe() ? this.toLocal(floor.offer_expires_ms) : null;
    this.emit('floor', { announce: this.announceFloor(prev, floor) });
    if (wasOffered !== (this.offerDeadline !== null)) this.emit('offer', { fresh: !wasOffered });
    this.emit('people', { floor: true });
  }

  on_youre_up({ expires_in_ms }) {
    this.offerDeadline = performance.now() + expires_in_ms;
    this.emit('offer', { fresh: true, youreUp: true });
  }

  on_offer_expired() {
    this.offerDeadline = null;
    this.emit('offer', { expired: true });
    this.emit('notice', { text: 'Your turn offer ran out, so your hand was lowered. Raise it again when you are ready.', kind: 'warn', announce: true });
  }

  on_time_warning({ remaining_ms }) {
    const who = this.iHoldFloor() ? 'You have' : `${this.nameOf(this.floor?.holder)} has`;
    const secs = Math.round(remaining_ms / 1000);
    this.emit('notice', { text: `${who} ${secs} seconds left.`, kind: 'warn', announce: true });
  }

  on_time_up() {
    const text = this.iHoldFloor() ? 'Your time is up — please wrap up.' : `Time is up for ${this.nameOf(this.floor?.holder)}.`;
    this.emit('notice', { text, kind: 'warn', announce: true });
  }

  on_reaction({ from, reaction, turn, tally, withdrawn = false }) {
    // During a turn a person counts once per kind; pressing again takes it back.
    if (withdrawn) {
      if (this.recent.get(from)?.kind === reaction) this.recent.delete(from);
    } else {
      this.recent.set(from, { kind: reaction, until: performance.now() + REACTION_SHOW_MS });
    }
    if (from === this.me?.id && turn != null && turn === this.floor?.turn) {
      if (withdrawn) this.myReactions.delete(reaction); else this.myReactions.add(reaction);
    }
    if (tally && this.floor && turn === this.floor.turn) this.floor = { ...this.floor, tally };
    this.emit('reaction', { from, reaction, turn, withdrawn });
    this.emit('people', { reaction: from });
    if (tally) this.emit('floor', {});
    if (withdrawn) return;
    setTimeout(() => this.emit('people', { reactionEnded: from }), REACTION_SHOW_MS + 50);
    const r = reactionByKind[reaction];
    if (r && from !== this.me?.id) this.emit('notice', { text: `${this.nameOf(from)}: ${r.label}`, quiet: true, silent: true });
  }

  on_chat({ message }) {
    if (this.chat.some((m) => m.id === message.id)) return;
    this.chat.push(message);
    if (this.chat.length > CHAT_KEPT) this.chat.shift();
    this.emit('chat', { added: [message] });
    if (message.from !== this.me?.id) this.emit('notice', { text: `${message.name} wrote: ${message.text.slice(0, 140)}`, quiet: true });
  }

  on_chat_deleted({ message }) {
    this.chat = this.chat.filter((m) => m.id !== message);
    this.emit('chat', {});
  }

  /** Whether I reacted with `kind` during the current turn (pressing again takes it back). */
  reacted(kind) {
    return this.myReactions.has(kind);
  }

  /** A facilitator did something to me: say what, and who (a toast, read out). */
  on_facilitator_action({ by, action, position }) {
    const who = this.nameOf(by);
    this.actedOnAt = performance.now();
    const text = {
      hand_moved: `${who} moved your hand to #${position}.`,
      hand_removed: `${who} removed your hand.`,
      hands_cleared: `${who} cleared all hands, yours too.`,
      muted: `${who} muted you.`,
      unmuted: `${who} unmuted you — you can switch your microphone on.`,
      floor_taken_back: `${who} took the floor back.`,
    }[action];
    if (text) this.emit('notice', { text, kind: action === 'unmuted' ? 'info' : 'warn' });
  }

  /** The server tells about itself: to facilitators, its session store failing or back;
   *  to everyone, that it restarts soon (the room comes back). */
  on_notice({ kind, message }) {
    if (kind === 'store_failing' || kind === 'store_ok') this.storeFailing = kind === 'store_failing';
    // A facilitator's words to every group, and requests for help and their answers, are
    // read out as well as shown.
    const tone = ['store_ok', 'breakout', 'help_answered'].includes(kind) ? 'info' : 'warn';
    const announce = ['breakout', 'breakout_ending', 'help_asked', 'help_answered'].includes(kind);
    this.emit('notice', { text: message, kind: tone, announce });
  }

  on_settings({ settings }) {
    const prev = this.settings;
    this.settings = settings;
    this.emit('settings', { prev });
    if (prev && prev.mode !== settings.mode) {
      const text = settings.mode === 'moderated'
        ? 'Moderated mode: only the person with the floor (and facilitators) can be heard.'
        : 'Open mode: everyone can be heard.';
      this.emit('notice', { text, announce: true });
    }
  }

  on_turn_ended({ turn }) {
    this.lastTurn = turn;
    this.emit('turn', turn);
  }

  on_stats({ stats }) {
    this.stats = stats;
    this.statsAt = performance.now();
    this.sync(stats.now_ms);
    this.emit('stats');
  }

  on_error(msg) {
    if (['hand_already_raised', 'note_too_long', 'already_holding_floor'].includes(msg.code)) this.pendingNote = null;
    this.emit('error', msg);
  }

  toLocal(roomMs) {
    return roomMs == null ? null : roomMs - this.offset;
  }
}

/** What the live region says when the floor changes; `null` when nothing worth saying. */
export function floorAnnouncement(prev, next, store) {
  if (!next) return null;
  const same = prev && prev.state === next.state && prev.holder === next.holder
    && prev.offered_to === next.offered_to;
  if (same) {
    if (next.state === 'held' && next.open && !prev.open) return `Floor open: ${store.nameOf(next.holder)} has paused.`;
    return null;
  }
  switch (next.state) {
    case 'held':
      return next.holder === store.me?.id ? 'You have the floor.' : `${store.nameOf(next.holder)} has the floor.`;
    case 'offered':
      return next.offered_to === store.me?.id
        ? "You're up! Press A to accept, or Escape for later."
        : `The floor is offered to ${store.nameOf(next.offered_to)}.`;
    case 'discussion':
      return 'Open discussion: everyone may speak.';
    default:
      return 'The floor is open. Nobody is speaking.';
  }
}
