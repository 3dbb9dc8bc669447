// Talkstick browser client: the learner and facilitator page.
//
// Flow: read the link's token → mic check (views/prejoin.js) → connect
// (connection.js) → keep a local copy of the room (state.js) → views render it.
//
// Media seam: if `web/media.js` exists it is loaded after the first welcome and called as
//   media.start({ connection, store, stream, listenOnly, micOn })  once joined
//   media.setMic?.(on)                                              when the mic opens/closes
//   media.stop()                                                    on leave or page exit
// `connection.on(type, fn)` delivers any server message type and
// `connection.send(type, fields)` sends any type, for the media's own signalling.

import { Rooms } from './rooms.js';
import { touchScreen, frameTimes } from './dom.js';
import { Store } from './state.js';
import { tokenFromUrl, decodeClaims, looksExpired, reportUrl } from './token.js';
import { MicCheck } from './micCheck.js';
import { errorText, REACTIONS, reactionByKind } from './labels.js';
import { registerShortcut, installShortcuts } from './shortcuts.js';
import { initToasts, toast, announce } from './views/toast.js';
import { showPrejoin } from './views/prejoin.js';
import { showNotice, connectionBanner, reconnectedWords } from './views/status.js';
import { floorView } from './views/floor.js';
import { peopleView } from './views/people.js';
import { queueView } from './views/queue.js';
import { controlsView } from './views/controls.js';
import { facilitatorView } from './views/facilitator.js';
import { statsView } from './views/stats.js';
import { helpView } from './views/help.js';
import { chatView } from './views/chat.js';
import { inviteView } from './views/invite.js';
import { breakoutsView } from './views/breakouts.js';

/** How long the speaker's reaction summary gathers before it is read out. */
const SPEAKER_SUMMARY_MS = 4000;
const deviceKey = (token) => `talkstick:device:${token}`;

function storageGet(key) {
  try { return sessionStorage.getItem(key); } catch { return null; }
}
function storageSet(key, value) {
  try { sessionStorage.setItem(key, value); } catch { /* private mode: fine */ }
}

async function main() {
  initToasts();
  const token = tokenFromUrl();
  const claims = decodeClaims(token);
  document.getElementById('boot').hidden = true;
  if (!token) {
    showNotice('This link is incomplete', 'Open the full link your facilitator sent you — it ends with a long code after "?token=".');
    return;
  }
  if (!claims) {
    showNotice("Can't join with this link", errorText('bad_token'));
    return;
  }
  if (looksExpired(claims)) {
    const go = await new Promise((resolve) => showNotice("Can't join with this link", errorText('token_expired'), [
      { label: "My computer's clock may be wrong — try anyway", run: () => resolve(true) },
    ]));
    if (!go) return;
    document.getElementById('notice-page').hidden = true;
  }
  document.title = `${claims.name} · Talkstick`;
  const mic = new MicCheck();
  const resuming = !!storageGet(`talkstick:resume:${token}`);
  let choice;
  if (resuming) {
    // A reload inside a session: go straight back in to keep the queue place.
    const saved = storageGet(deviceKey(token)) || '';
    if (saved === 'listen-only') {
      choice = { listenOnly: true, micOn: false };
    } else {
      const res = await mic.open(saved || null);
      choice = { listenOnly: !res.ok, deviceId: res.deviceId, micOn: false };
      if (!res.ok) toast('Your microphone could not be opened again, so you are listening only. Reload to try again.', 'warn');
    }
  } else {
    const pre = document.getElementById('prejoin');
    pre.hidden = false;
    document.body.dataset.screen = 'prejoin';
    choice = await showPrejoin(pre, { claims, mic });
    pre.hidden = true;
  }
  storageSet(deviceKey(token), choice.listenOnly ? 'listen-only' : choice.deviceId || '');
  enterRoom({ token, claims, mic, choice });
}

function enterRoom({ token, mic, choice }) {
  // The plenary, and the breakout group the person is in while groups run (rooms.js).
  const conn = new Rooms({ token });
  const store = new Store();
  store.attach(conn);
  const local = { listenOnly: choice.listenOnly, wantMicOnJoin: choice.micOn, media: null, hadHand: false };
  document.getElementById('room').hidden = false;
  document.body.dataset.screen = 'room';
  document.body.classList.toggle('listen-only', local.listenOnly);

  const send = (type, fields, { quiet = false } = {}) => {
    const id = conn.send(type, fields);
    if (id === null && !quiet) toast('You are offline right now — wait for the connection to come back, then try again.', 'error');
    return id !== null;
  };

  /** Opens or closes the microphone track here and in the media module. */
  function micTrack(on) {
    mic.setEnabled(on);
    local.media?.setMic?.(on);
  }

  function setMic(on) {
    if (local.listenOnly) return false;
    micTrack(on);
    return send('set_mic', { on });
  }

  // "Asking twice" belongs to the button's place (its focus key), not to the element: a
  // list re-rendered while someone confirms (a reaction, a speaker) keeps the question.
  const asking = new Map(); // focus key -> { question, until, label }
  const ASK_MS = 4000;
  function confirmTwice(button, question, run) {
    if (!button) { run(); return; }
    const key = button.dataset.focusKey || question;
    const open = asking.get(key);
    if (open && open.until > performance.now()) {
      asking.delete(key);
      run();
      return;
    }
    const ask = { question, until: performance.now() + ASK_MS, label: button.innerHTML };
    asking.set(key, ask);
    button.textContent = question;
    button.classList.add('confirming');
    setTimeout(() => {
      if (asking.get(key) !== ask) return;
      asking.delete(key);
      const again = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (again) { again.innerHTML = ask.label; again.classList.remove('confirming'); }
    }, ASK_MS);
  }
  /** The question a button at `key` is asking, while it waits for the second click. */
  const confirming = (key) => {
    const a = asking.get(key);
    return a && a.until > performance.now() ? a.question : null;
  };

  const help = helpView();
  const actions = {
    raise(kind, note) {
      const trimmed = (note || '').trim();
      store.rememberNote(trimmed);
      return send('raise_hand', trimmed ? { kind, note: trimmed } : { kind });
    },
    lower: () => send('lower_hand'),
    done: () => send('yield'),
    accept() {
      if (!send('accept_floor')) return;
      const me = store.self;
      if (local.listenOnly) {
        toast('You joined listen-only, so nobody can hear you. Reload the page to set up a microphone, or say "I\'m done".', 'warn');
      } else if (me && !me.mic_on && !me.force_muted && !me.push_to_talk) {
        setMic(true);
        toast('Your microphone is on — go ahead.');
      } else if (me?.force_muted) {
        // Taking the floor lifts a facilitator's mute for this turn.
        if (!me.push_to_talk) setMic(true);
        toast('A facilitator had muted you: you can be heard for this turn, and are muted again after it.');
      }
    },
    decline: () => send('decline_floor'),
    defer() {
      // Nobody else waiting: "later" cannot pass the offer on, so say what can be done.
      if (store.queue.length < 2) return toast('Nobody else is waiting: accept the floor, or pass to lower your hand.', 'warn');
      return send('defer_floor');
    },
    react: (reaction) => send('react', { reaction }),
    toggleMic() {
      const me = store.self;
      if (!me) return;
      if (local.listenOnly) return toast('You joined listen-only, without a microphone. Reload the page to set one up.', 'warn');
      if (me.force_muted) return toast(errorText('force_muted'), 'warn');
      if (me.push_to_talk) return toast(touchScreen() ? 'Push-to-talk is on: hold "Hold to talk", or turn push-to-talk off.' : 'Push-to-talk is on: hold Space to talk, or press P to turn it off.');
      setMic(!me.mic_on);
    },
    togglePtt() {
      const me = store.self;
      if (!me || local.listenOnly) return;
      const enabled = !me.push_to_talk;
      if (send('set_push_to_talk', { enabled }) && enabled && me.mic_on) setMic(false);
      if (enabled) toast(touchScreen() ? 'Push-to-talk is on: hold the "Hold to talk" button to talk.' : 'Push-to-talk is on: hold Space to talk.');
    },
    talkDown() { if (!store.self?.force_muted && !local.listenOnly) setMic(true); },
    talkUp() { if (store.self?.mic_on) setMic(false); },
    toggleAway() {
      const me = store.self;
      if (!me) return;
      const away = me.presence !== 'away';
      if (send('set_away', { away }) && away && me.mic_on) setMic(false);
    },
    help: () => help.toggle(),
    leave: (e) => confirmTwice(e?.currentTarget, 'Really leave?', () => {
      local.media?.stop?.();
      conn.leave();
    }),
    problem: (text) => toast(text, 'error'),
    grant: (participant) => send('grant', { participant }),
    next: () => send('next'),
    revoke: () => send('revoke'),
    openDiscussion: () => send('open_discussion'),
    moveHand(participant, position) {
      if (position < 1 || position > store.queue.length) return;
      send('move_hand', { participant, position });
    },
    removeHand: (participant) => send('remove_hand', { participant }),
    clearHands: (button) => confirmTwice(button, `Really clear ${store.queue.length}?`, () => send('clear_hands')),
    mute: (participant) => send('mute', { participant }),
    unmute: (participant) => send('unmute', { participant }),
    unmuteAll: () => send('unmute_all'),
    endSession: (button) => confirmTwice(button, 'End it for everyone?', () => send('end_session')),
    askToUnmute() {
      if (send('ask_to_unmute')) toast('Asked the facilitator to unmute you.');
    },
    remove: (button, p) => confirmTwice(button, `Remove ${p.name}?`, () => send('remove_participant', { participant: p.id })),
    confirming,
    chat: (text) => send('chat', { text }),
    deleteChat: (button, m) => confirmTwice(button, 'Delete?', () => send('delete_chat', { message: m.id })),
    muteAll: () => send('mute_all'),
    // The open breakout group a plenary participant is in (its name), while the page
    // shows the plenary; and a way to hear when the groups change.
    groupOf: (id) => (conn.inGroup ? null : conn.breakouts?.groups?.find((g) => g.open && g.members.includes(id))?.name ?? null),
    onGroups: (fn) => conn.onBreakouts(fn),
    updateSettings: (settings) => send('update_settings', { settings }),
    getStats: () => send('get_stats', {}, { quiet: true }),
    freshStats: () => new Promise((resolve) => {
      if (!send('get_stats')) return resolve(store.stats);
      const timer = setTimeout(() => { off(); resolve(store.stats); }, 2000);
      const off = store.on('stats', () => { clearTimeout(timer); off(); resolve(store.stats); });
    }),
  };

  inviteView({ toast });
  breakoutsView(store, conn, { toast, confirmTwice });
  const floor = floorView(store, actions);
  peopleView(store, actions);
  const queue = queueView(store, actions);
  const controls = controlsView(store, actions, local);
  facilitatorView(store, actions);
  const stats = statsView(store, actions);
  const chat = chatView(store, actions);
  for (const id of ['settings-time', 'settings-queue']) document.getElementById(id).addEventListener('submit', (e) => e.preventDefault());

  registerShortcuts(store, actions, help, controls, chat);
  installShortcuts({
    blocked: () => help.isOpen(),
    ptt: {
      active: () => !!store.self?.push_to_talk && !local.listenOnly,
      down: () => { if (!store.self?.force_muted) setMic(true); },
      up: () => setMic(false),
    },
  });

  store.on('error', (e) => {
    const wait = e.code === 'rate_limited' && e.retry_after_ms ? ` Try again in ${Math.ceil(e.retry_after_ms / 1000)} s.` : '';
    toast(errorText(e.code, e.message) + wait, 'error');
    if (e.code === 'force_muted') micTrack(false);
  });
  store.on('notice', (n) => {
    if (n.quiet) { if (!n.silent) announce(n.text); return; }
    toast(n.text, n.kind || 'info');
  });
  store.on('floor', (d) => { if (d?.announce) announce(d.announce, store.offeredToMe()); });
  // The speaker hears of reactions without being interrupted: one summary every few
  // seconds ("2 agree, 1 question"), read out politely, never one per click.
  const forSpeaker = new Map();
  let speakerTimer = null;
  store.on('reaction', ({ from, reaction, withdrawn }) => {
    if (!store.iHoldFloor() || from === store.me?.id || withdrawn) return;
    forSpeaker.set(reaction, (forSpeaker.get(reaction) || 0) + 1);
    if (speakerTimer) return;
    speakerTimer = setTimeout(() => {
      speakerTimer = null;
      const parts = [...forSpeaker].map(([kind, n]) => `${n} ${(reactionByKind[kind]?.label || kind).toLowerCase()}`);
      forSpeaker.clear();
      if (parts.length && store.iHoldFloor()) announce(`Reactions: ${parts.join(', ')}`);
    }, SPEAKER_SUMMARY_MS);
  });
  // "You're up" is said once per offer, whether the floor or the offer told us first.
  store.on('offer', (d) => {
    if (d?.youreUp && store.sayOnce(`up:${store.floor?.offer_expires_ms}`)) announce(touchScreen() ? "You're up! Tap Accept, or Later." : "You're up! Press A to accept, or Escape for later.", true);
  });
  store.on('people', (d) => {
    const me = store.self;
    if (me && d?.updated === me.id) micTrack(!!me.mic_on && !me.force_muted && !local.listenOnly);
  });

  store.on('joined', ({ first, resumed }) => {
    const me = store.self;
    if (first && !resumed && local.wantMicOnJoin && !me.force_muted) setMic(true);
    else if (me.mic_on && (local.listenOnly || me.push_to_talk)) setMic(false);
    else micTrack(!!me.mic_on && !me.force_muted && !local.listenOnly);
    if (!first && !conn.switching) {
      const said = reconnectedWords({ resumed, hadHand: local.hadHand, offlineMs: conn.offlineMs ?? 0 });
      toast(said.text, said.kind);
    }
    if (first) loadMedia();
  });
  // Into a breakout group or back: the room's welcome is applied; audio starts over in
  // the new room at once, the microphone as it was.
  conn.onSwitch(async (where) => {
    const micWas = local.micBeforeSwitch;
    local.media?.stop?.();
    local.media = null;
    await loadMedia({ listenOnly: local.listenOnly || !!where?.listen });
    if (micWas && !where?.listen) setMic(true);
    const g = where && conn.breakouts?.groups?.find((x) => x.room === where.room);
    if (where?.listen) toast(`You are listening in on ${g?.name ?? 'a group'}: they see you there, and nobody hears you.`);
    else if (where) toast(`You are in ${g?.name ?? 'your group'} now.${g?.leads?.includes(conn.plenaryMe) ? ' You facilitate this group.' : ''}`);
    else toast('You are back in the plenary.');
  });
  // A switch is coming: remember the microphone, to open it again in the new room.
  conn.onBeforeSwitch(() => { local.micBeforeSwitch = !!store.self?.mic_on && !local.listenOnly; });
  // A screen reader hears what happens to your own hand: up, down, and your place as it
  // changes (the page shows the same in "#k of n").
  let myPlace = null;
  store.on('queue', () => {
    local.hadHand = !!store.myHand();
    const mine = store.myHand();
    const place = mine && !store.offeredToMe() ? store.placeOf(mine.participant) : null;
    if (place && !myPlace) announce(`Your hand is up: number ${place.k} of ${place.n}.`);
    else if (place && place.k !== myPlace.k) announce(`You are now number ${place.k} of ${place.n}.`);
    // (Not when a facilitator's action just said so in words.)
    else if (!mine && myPlace && !store.iHoldFloor() && !(performance.now() - (store.actedOnAt ?? -1e9) < 1500)) announce('Your hand is down.');
    myPlace = place;
  });

  async function loadMedia({ listenOnly = local.listenOnly } = {}) {
    let mod;
    try {
      mod = await import('./media.js');
    } catch {
      return; // no audio module yet: the page works as a floor and queue client
    }
    try {
      local.media = mod;
      // Audio belongs to the room the page is in now (see Rooms.current).
      await mod.start?.({ connection: conn.current?.() ?? conn, store, stream: mic.stream, listenOnly, micOn: !listenOnly && !!mic.stream?.getAudioTracks()[0]?.enabled });
    } catch (e) {
      console.error('media failed to start:', e);
      toast('Audio could not start. The queue and floor still work; try reloading.', 'error');
    }
  }

  const drawBanner = connectionBanner(conn, {
    onStopped(s) {
      local.media?.stop?.();
      mic.release();
      if (s.reason === 'fatal') {
        const title = s.code === 'unsupported_version' ? 'Please reload' : "Can't join with this link";
        const text = s.code === 'forbidden' ? 'A facilitator removed you from this room.' : errorText(s.code, s.message);
        showNotice(title, text);
      } else if (s.reason === 'removed') {
        showNotice('You were removed from the room', 'A facilitator removed you from this room.');
      } else if (s.reason === 'replaced') {
        showNotice('Opened elsewhere', 'This link was opened on another device or in another window, and the room went with it: this page was disconnected. You are still one person in the room, with your place.', [
          { label: 'Use this window instead', primary: true, run: () => location.reload() },
        ]);
      } else if (s.reason === 'ended') {
        showNotice('The session has ended', `${s.message ? `${s.message}. ` : ''}Thanks for taking part. Your summary shows how long you spoke, your waits and whether your points were heard; nobody else sees it.`, [
          { label: store.isFacilitator ? 'Session reports' : 'My summary', primary: true, run: () => window.open(reportUrl(), '_blank', 'noopener') },
        ]);
      } else if (s.reason === 'left') {
        showNotice('You left the room', 'Thanks for taking part. Your summary shows how long you spoke, your waits and whether your points were heard; nobody else sees it.', [
          { label: 'Join again', primary: true, run: () => location.reload() },
          { label: store.isFacilitator ? 'Session reports' : 'My summary', run: () => window.open(reportUrl(), '_blank', 'noopener') },
        ]);
      } else {
        showNotice("Can't reach the Talkstick server", 'We tried for a long time without success. Check your network connection, then try again.', [
          { label: 'Try again', primary: true, run: () => location.reload() },
        ]);
      }
    },
  });
  conn.onStatus((s) => {
    controls.setConnected(s.state === 'joined');
    // Without the room, its clocks stop: nobody here knows what happened meanwhile.
    store.freeze(s.state !== 'joined' && s.state !== 'idle' && store.joined);
  });

  // Clocks: banner times, waiting times, live chart, reconnect countdown.
  setInterval(() => { floor.tick(); queue.tick(); drawBanner(); }, 250);
  setInterval(() => stats.tick(), 1000);
  const meter = () => {
    if (store.self?.mic_on && !local.listenOnly) controls.level(mic.level());
    requestAnimationFrame(meter);
  };
  requestAnimationFrame(meter);
  window.addEventListener('pagehide', () => local.media?.stop?.());

  // Toasts sit just above the control bar, whatever its height.
  new ResizeObserver(([entry]) => {
    document.documentElement.style.setProperty('--footer-h', `${Math.ceil(entry.target.getBoundingClientRect().height)}px`);
  }).observe(document.getElementById('controls'));

  // For tests and debugging in the console.
  window.talkstick = { store, connection: conn, frameTimes };
  conn.start();
}

function registerShortcuts(store, actions, help, controls, chat) {
  const inRoom = () => store.joined;
  const fac = () => store.isFacilitator;
  const hand = 'Your hand';
  const raise = (kind) => {
    if (store.myHand()) toast(touchScreen() ? 'Your hand is already up. Tap "Lower hand" to lower it.' : 'Your hand is already up. Press L to lower it.');
    else if (store.iHoldFloor()) toast(touchScreen() ? 'You have the floor. Tap "I\'m done" when you are done.' : 'You have the floor. Press D when you are done.');
    else controls.raise(kind);
  };
  registerShortcut({ key: 'h', label: 'Raise your hand: new point', group: hand, when: inRoom, run: () => raise('new_point') });
  registerShortcut({ key: 'r', label: 'Raise your hand: reply to the speaker', group: hand, when: inRoom, run: () => raise('reply') });
  registerShortcut({ key: 'e', label: 'Write a private note for your hand', group: hand, when: inRoom, run: () => !store.myHand() && controls.focusNote() });
  registerShortcut({ key: 'l', label: 'Lower your hand', group: hand, when: inRoom, run: actions.lower });
  registerShortcut({ key: 'a', label: "Accept when you're up", group: hand, when: inRoom, run: () => store.offeredToMe() && actions.accept() });
  registerShortcut({ key: 'Escape', label: "Later when you're up: keep your hand (or close help)", group: hand, when: inRoom, run: () => { if (help.isOpen()) help.close(); else if (store.offeredToMe()) actions.defer(); } });
  registerShortcut({ key: 'd', label: "I'm done: give the floor back", group: hand, when: inRoom, run: () => store.iHoldFloor() && actions.done() });
  for (const r of REACTIONS) {
    registerShortcut({ key: r.key, label: `React: ${r.label}`, group: 'Reactions', when: inRoom, run: () => actions.react(r.kind) });
  }
  registerShortcut({ key: 'm', label: 'Microphone on or off', group: 'You', when: inRoom, run: actions.toggleMic });
  registerShortcut({ key: 'p', label: 'Push-to-talk on or off (then hold Space to talk)', group: 'You', when: inRoom, run: actions.togglePtt });
  registerShortcut({ key: 'w', label: 'Away / back at my desk', group: 'You', when: inRoom, run: actions.toggleAway });
  registerShortcut({ key: 'c', label: 'Write in the chat (Enter sends, Esc leaves)', group: 'You', when: inRoom, run: () => chat.focus() });
  registerShortcut({ key: '?', label: 'Show or hide this help', group: 'You', when: inRoom, run: actions.help });
  registerShortcut({ key: 'n', label: 'Next in queue', group: 'Facilitator', when: fac, run: actions.next });
  registerShortcut({ key: 'x', label: 'Take back the floor (or end discussion)', group: 'Facilitator', when: fac, run: actions.revoke });
  registerShortcut({ key: 'o', label: 'Open discussion', group: 'Facilitator', when: fac, run: actions.openDiscussion });
  registerShortcut({ key: 'm', shift: true, label: 'Mute all learners', group: 'Facilitator', when: fac, run: actions.muteAll });
}

main().catch((e) => {
  console.error(e);
  showNotice('Something went wrong', 'The page could not start. Reload it; if that does not help, tell your facilitator.', [
    { label: 'Reload', primary: true, run: () => location.reload() },
  ]);
});
