// Audio: one WebRTC connection to the Talkstick server (an SFU).
//
// The offer has one send-only audio m-line (the microphone) followed by receive-only
// m-lines, the audio slots. The server fills each slot with one speaker (the floor holder
// first, then the loudest others) and says who is where with `slots` messages, so nobody
// renegotiates when people come and go. Offer and answer ride on the room's WebSocket.

let state = null;

const RESTART_DELAYS_MS = [1000, 2000, 4000, 8000, 15000];
const ANSWER_TIMEOUT_MS = 8000;
const DISCONNECTED_GRACE_MS = 4000;

/** Starts audio. `stream` is the microphone (absent when listening only). */
export async function start({ connection, store, stream, listenOnly, micOn }) {
  stop();
  state = {
    connection,
    store,
    track: listenOnly ? null : (stream?.getAudioTracks()[0] ?? null),
    micOn: !!micOn,
    pc: null,
    slots: new Map(), // mid -> participant id
    players: new Map(), // mid -> <audio>
    unsubscribe: [],
    restarts: 0,
    restartTimer: null,
    stallTimer: null,
    // When this audio started, was offered, answered and connected (performance.now()):
    // how long a page waits for audio after joining or moving to a group.
    times: { start: performance.now() },
  };
  const s = state;
  s.unsubscribe.push(connection.on('rtc_answer', (m) => answer(s, m.sdp)));
  s.unsubscribe.push(connection.on('slots', (m) => {
    s.slots = new Map(m.slots.map((x) => [x.mid, x.participant]));
  }));
  s.unsubscribe.push(connection.on('error', (m) => {
    if (m.code === 'bad_offer') console.warn('audio refused by the server:', m.message);
  }));
  // After a reconnect: a new identity has no audio at the server, and ours may be down
  // or still waiting for an answer that was lost with the old socket. Offer again then.
  // The snapshot says whether the server has our audio: after a server restart it has
  // none, while this side may take many seconds to notice that its connection is dead.
  s.unsubscribe.push(connection.on('welcome', (m) => {
    const st = s.pc?.connectionState;
    const waiting = s.pc?.signalingState === 'have-local-offer';
    const serverHasIt = m.room?.participants?.find((p) => p.id === m.you?.id)?.audio !== false;
    if (!m.you?.resumed || !s.pc || waiting || !serverHasIt || st === 'failed' || st === 'closed' || st === 'disconnected') {
      scheduleRestart(s, 0);
    }
  }));
  await negotiate(s);
  window.talkstickMedia = { get pc() { return s.pc; }, get slots() { return s.slots; }, get offers() { return s.offers; }, times: s.times };
}

/** Opens or closes the microphone (the track stays, so no renegotiation). */
export function setMic(on) {
  if (!state) return;
  state.micOn = !!on;
  if (state.track) state.track.enabled = state.micOn;
}

/** Ends audio. */
export function stop() {
  if (!state) return;
  const s = state;
  state = null;
  clearTimeout(s.restartTimer);
  clearTimeout(s.stallTimer);
  s.unsubscribe.forEach((f) => f());
  s.pc?.close();
  for (const el of s.players.values()) el.remove();
}

async function negotiate(s) {
  s.offers = (s.offers ?? 0) + 1; // how many offers this audio took (a retry is a second)
  s.pc?.close();
  const slots = s.store.audioSlots ?? 3;
  // TURN relays come with each welcome. `?ice=relay` in the page's address uses only
  // them: what a learner behind a firewall that blocks UDP to the server gets anyway,
  // and a way to check a relay from any network.
  const relayOnly = new URLSearchParams(location.search).get('ice') === 'relay';
  const pc = new RTCPeerConnection({
    iceServers: s.store.iceServers ?? [],
    iceTransportPolicy: relayOnly ? 'relay' : 'all',
    bundlePolicy: 'max-bundle',
    rtcpMuxPolicy: 'require',
  });
  s.pc = pc;
  if (s.track) {
    s.track.enabled = s.micOn;
    pc.addTransceiver(s.track, { direction: 'sendonly' });
  } else {
    pc.addTransceiver('audio', { direction: 'sendonly' });
  }
  for (let i = 0; i < slots; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.ontrack = (e) => play(s, e.transceiver.mid, e.track);
  pc.onconnectionstatechange = () => {
    if (s !== state || pc !== s.pc) return;
    clearTimeout(s.stallTimer);
    if (pc.connectionState === 'connected') {
      s.restarts = 0;
      s.times.connected ??= performance.now();
    }
    if (pc.connectionState === 'failed') scheduleRestart(s);
    // The server drops a peer that goes quiet; do not wait for 'failed' to come back.
    if (pc.connectionState === 'disconnected') s.stallTimer = setTimeout(() => scheduleRestart(s, 0), DISCONNECTED_GRACE_MS);
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  // The server is ICE-lite: it needs none of our candidates, so the offer goes at once.
  s.times.offered ??= performance.now();
  if (s.connection.send('rtc_offer', { sdp: pc.localDescription.sdp }) === null) {
    scheduleRestart(s); // not connected right now: try again shortly
    return;
  }
  // No answer in time (lost with a dropped socket, or refused): offer again.
  clearTimeout(s.stallTimer);
  s.stallTimer = setTimeout(() => {
    if (s === state && pc === s.pc && pc.signalingState === 'have-local-offer') scheduleRestart(s, 0);
  }, ANSWER_TIMEOUT_MS);
}

async function answer(s, sdp) {
  if (s !== state || !s.pc || s.pc.signalingState !== 'have-local-offer') return;
  s.times.answered ??= performance.now();
  try {
    await s.pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (e) {
    console.error('audio answer refused:', e);
    scheduleRestart(s);
  }
}

function play(s, mid, track) {
  let el = s.players.get(mid);
  if (!el) {
    el = document.createElement('audio');
    el.autoplay = true;
    el.dataset.mid = mid;
    el.hidden = true;
    document.body.appendChild(el);
    s.players.set(mid, el);
  }
  el.srcObject = new MediaStream([track]);
  el.play?.().catch(() => { /* autoplay blocked until a click; the join click usually allows it */ });
}

function scheduleRestart(s, delay) {
  if (s !== state) return;
  clearTimeout(s.restartTimer);
  // The server takes at most one offer a second.
  const wait = Math.max(1100, delay ?? RESTART_DELAYS_MS[Math.min(s.restarts, RESTART_DELAYS_MS.length - 1)]);
  s.restarts += 1;
  s.restartTimer = setTimeout(() => {
    if (s === state && s.connection.joined) negotiate(s).catch((e) => console.error('audio restart failed:', e));
  }, wait);
}
