// The WebSocket to the server: join, resume, sequence tracking, keep-alive and
// reconnection with backoff. Knows the envelope, not the room.
//
// Other modules (the room state, and later web/media.js) subscribe with `on(type, fn)`
// to any server message type, and send any message type with `send(type, fields)`, so
// media signalling can ride on the same socket without changes here.

export const PROTOCOL_VERSION = 1;
const PING_EVERY_MS = 15_000;
const SILENT_DEAD_MS = 40_000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const MAX_ATTEMPTS = 40; // about ten minutes of trying, then a "Try again" button
// `forbidden` at join: a facilitator removed the person with this link.
const FATAL_CODES = new Set(['bad_token', 'token_expired', 'unsupported_version', 'forbidden']);

const resumeKey = (token, group) => `talkstick:resume:${token}${group ? `:${group}` : ''}`;

/**
 * Status values passed to `onStatus` listeners:
 * - `{state: 'connecting'}` first attempt under way
 * - `{state: 'joined', resumed, rejoined, offlineMs}` welcome received (`rejoined`: not
 *   the first; `offlineMs`: how long the page was without the room before it)
 * - `{state: 'reconnecting', attempt, retryAt, everJoined, reason, lostAt}` waiting to
 *   retry (`lostAt`: when the joined connection dropped)
 * - `{state: 'stopped', reason, code?, message?}` no more tries: `fatal` (token, version),
 *   `replaced` (joined again elsewhere), `left`, `gave_up`, `moved` (out of a breakout
 *   group: the plenary says where to)
 *
 * With `group` (a breakout group's room from the plenary's `breakouts`) it joins that
 * room with the same link; `listen`: a facilitator listening in.
 */
export class Connection {
  constructor({ token, group = null, listen = false, url = defaultUrl(), storage = sessionStorage, WebSocketImpl = WebSocket }) {
    this.token = token;
    this.group = group;
    this.listen = listen;
    this.url = url;
    this.storage = storage;
    this.WS = WebSocketImpl;
    this.ws = null;
    this.handlers = new Map();
    this.statusHandlers = new Set();
    this.status = { state: 'idle' };
    this.seq = null;
    this.nextId = 1;
    this.attempt = 0;
    this.everJoined = false;
    this.timers = {};
    this.lastHeard = 0;
    this.stopped = false;
  }

  get resumeToken() {
    try { return this.storage.getItem(resumeKey(this.token, this.group)); } catch { return null; }
  }

  set resumeToken(value) {
    try {
      if (value) this.storage.setItem(resumeKey(this.token, this.group), value);
      else this.storage.removeItem(resumeKey(this.token, this.group));
    } catch { /* storage may be unavailable (privacy mode): resume then lasts the page */ }
  }

  /** True once this socket has been welcomed (a replacement socket starts false). */
  get joined() { return this.socketJoined === true; }

  /** Subscribes to a server message type (`'*'` for all). Returns an unsubscribe. */
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

  /** Opens the connection (once); later drops reconnect by themselves. */
  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** Retries at once (from a "Try again" button). */
  retryNow() {
    this.stopped = false;
    clearTimeout(this.timers.retry);
    this.connect();
  }

  /**
   * Sends a message when joined. Returns its request id, or `null` if it could not be
   * sent (then the caller tells the user; actions are never queued while offline).
   */
  send(type, fields = {}) {
    if (!this.joined || !this.ws || this.ws.readyState !== 1) return null;
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ type, ...fields, id }));
    return id;
  }

  /** Leaves for good: the server says goodbye and the resume token is forgotten. */
  leave() {
    this.resumeToken = null;
    this.leaving = true;
    if (!this.send('leave')) this.stop('left');
  }

  stop(reason, extra = {}) {
    this.stopped = true;
    for (const t of Object.values(this.timers)) { clearTimeout(t); clearInterval(t); }
    this.detach();
    this.setStatus({ state: 'stopped', reason, ...extra });
  }

  // ---- internals ----

  setStatus(status) {
    this.status = status;
    for (const fn of this.statusHandlers) fn(status);
  }

  emit(msg) {
    for (const key of [msg.type, '*']) {
      for (const fn of this.handlers.get(key) || []) {
        try { fn(msg); } catch (e) { console.error('handler for', msg.type, 'failed:', e); }
      }
    }
  }

  detach() {
    const ws = this.ws;
    this.ws = null;
    this.socketJoined = false;
    clearInterval(this.timers.ping);
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(); } catch { /* already closed */ }
  }

  connect() {
    this.detach();
    clearTimeout(this.timers.retry);
    if (!this.everJoined && this.attempt === 0) this.setStatus({ state: 'connecting' });
    let ws;
    try {
      ws = new this.WS(this.url);
    } catch (e) {
      this.lost('unreachable');
      return;
    }
    this.ws = ws;
    this.sockets = (this.sockets ?? 0) + 1; // sockets this connection has opened
    this.times = { connect: performance.now() }; // this socket's connect, open and welcome
    this.joinError = null;
    this.goodbye = null;
    ws.onopen = () => {
      this.times.open = performance.now();
      const join = { type: 'join', v: PROTOCOL_VERSION, token: this.token };
      if (this.group) {
        join.group = this.group;
        if (this.listen) join.listen = true;
      }
      const resume = this.resumeToken;
      if (resume) join.resume = resume;
      ws.send(JSON.stringify(join));
      this.lastHeard = performance.now();
      this.timers.ping = setInterval(() => this.keepAlive(), PING_EVERY_MS);
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ev);
    ws.onerror = () => { /* onclose follows with the details */ };
  }

  keepAlive() {
    if (performance.now() - this.lastHeard > SILENT_DEAD_MS) {
      this.lost('silent'); // a half-open socket: give up on it and resume elsewhere
      return;
    }
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: 'ping' }));
  }

  receive(data) {
    this.lastHeard = performance.now();
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (!msg || typeof msg.type !== 'string') return;
    if (!this.joined) {
      if (msg.type === 'welcome') return this.welcomed(msg);
      if (msg.type === 'error') {
        this.joinError = msg;
        // A group that no longer has us: the plenary tells where to go.
        if (FATAL_CODES.has(msg.code) || (this.group && msg.code === 'not_in_group')) {
          this.resumeToken = null;
          this.stop('fatal', { code: msg.code, message: msg.message });
        } else {
          this.lost(msg.code); // room_full, internal: try again later
        }
      }
      return;
    }
    if (typeof msg.seq === 'number' && this.seq !== null) {
      if (msg.seq > this.seq + 1) {
        // Missed events: a fresh snapshot is the only safe way back.
        this.resync();
        return;
      }
      if (msg.seq > this.seq) this.seq = msg.seq;
    }
    if (msg.type === 'goodbye') this.goodbye = msg.reason;
    this.emit(msg);
  }

  welcomed(msg) {
    if (this.times) this.times.welcome = performance.now();
    const rejoined = this.everJoined;
    // How long this page was without the room (0 on the first join).
    this.offlineMs = this.lostAt == null ? 0 : performance.now() - this.lostAt;
    this.lostAt = null;
    this.seq = msg.seq;
    this.attempt = 0;
    this.everJoined = true;
    this.socketJoined = true;
    this.resumeToken = msg.you.resume_token;
    this.setStatus({ state: 'joined', resumed: !!msg.you.resumed, rejoined, offlineMs: this.offlineMs });
    this.emit(msg);
  }

  resync() {
    this.detach();
    this.connect();
  }

  closed(ev) {
    this.ws = null;
    this.socketJoined = false;
    clearInterval(this.timers.ping);
    if (this.stopped) return;
    if (this.leaving || (ev.code === 1000 && this.goodbye)) {
      this.resumeToken = null;
      this.stop('left', { message: this.goodbye });
      return;
    }
    if (ev.code === 4002) {
      this.stop('replaced', { message: this.goodbye });
      return;
    }
    if (ev.code === 4006) {
      this.connect(); // a new role in a breakout group: join again at once, same person
      return;
    }
    if (ev.code === 4005) {
      this.resumeToken = null;
      this.stop('moved');
      return;
    }
    if (ev.code === 4004) {
      this.resumeToken = null;
      this.stop('ended', { message: this.goodbye });
      return;
    }
    if (ev.code === 4003) {
      this.resumeToken = null;
      this.stop('removed', { message: this.goodbye });
      return;
    }
    if (ev.code === 4001) {
      const code = this.joinError?.code || 'bad_token';
      this.resumeToken = null;
      this.stop('fatal', { code, message: this.joinError?.message });
      return;
    }
    this.lost(this.everJoined ? 'dropped' : 'unreachable', ev.code);
  }

  /** Waits and tries again; `closeCode`: the socket's close code, when it closed. */
  lost(reason, closeCode = null) {
    this.detach();
    if (this.stopped) return;
    this.attempt += 1;
    if (this.attempt > MAX_ATTEMPTS) {
      this.stop('gave_up', { code: reason });
      return;
    }
    const base = BACKOFF_MS[Math.min(this.attempt - 1, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    const retryAt = performance.now() + delay;
    if (this.everJoined && this.lostAt == null) this.lostAt = performance.now();
    this.setStatus({ state: 'reconnecting', attempt: this.attempt, retryAt, everJoined: this.everJoined, reason, closeCode, lostAt: this.lostAt });
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }
}

function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}
