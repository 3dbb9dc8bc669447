// Microphone and speaker check, before joining and without a server: opens a
// microphone with getUserMedia, measures its level with WebAudio, plays a test tone.
// The stream it opens is handed to the room (and to web/media.js when it exists).

const CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Why a microphone could not be opened, in words a learner can act on. */
export const MIC_PROBLEMS = {
  insecure: "This page isn't on a secure (https) address, so the browser won't offer a microphone. You can still join and listen.",
  unsupported: "This browser can't use a microphone here. You can still join and listen; for speaking, try a current Chrome, Edge or Firefox.",
  denied: 'Microphone access was blocked. You can join and listen; to speak, allow the microphone for this site in the browser (the icon next to the address) and reload.',
  none: 'No microphone was found. Plug one in (a headset works best) and press "Try again", or join and listen.',
  busy: 'The microphone is being used by another program or cannot start. Close other call apps and press "Try again", or join and listen.',
  unknown: 'The microphone could not be opened. Press "Try again", or join and listen.',
};

export function micProblemFromError(err) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'none';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    default:
      return 'unknown';
  }
}

export class MicCheck {
  constructor() {
    this.stream = null;
    this.ctx = null;
    this.analyser = null;
    this.source = null;
    this.buf = null;
  }

  static available() {
    if (!window.isSecureContext) return 'insecure';
    if (!navigator.mediaDevices?.getUserMedia) return 'unsupported';
    return null;
  }

  /** Opens `deviceId` (or the default). Resolves `{ok}` or `{ok: false, problem}`. */
  async open(deviceId) {
    const missing = MicCheck.available();
    if (missing) return { ok: false, problem: missing };
    this.release();
    const audio = deviceId ? { ...CONSTRAINTS, deviceId: { exact: deviceId } } : CONSTRAINTS;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio });
    } catch (err) {
      if (deviceId && err?.name === 'OverconstrainedError') return this.open(null);
      return { ok: false, problem: micProblemFromError(err) };
    }
    this.meter();
    return { ok: true, deviceId: this.deviceId() };
  }

  deviceId() {
    return this.stream?.getAudioTracks()[0]?.getSettings().deviceId || '';
  }

  /** Audio inputs, labelled once permission is granted. */
  async devices() {
    if (!navigator.mediaDevices?.enumerateDevices) return [];
    const all = await navigator.mediaDevices.enumerateDevices();
    return all
      .filter((d) => d.kind === 'audioinput')
      .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
  }

  audioContext() {
    if (!this.ctx) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return null;
      this.ctx = new AC();
    }
    if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  meter() {
    const ctx = this.audioContext();
    if (!ctx || !this.stream) return;
    this.source?.disconnect();
    this.source = ctx.createMediaStreamSource(this.stream);
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buf = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  /** The current input level, 0 (silence, −60 dBFS or less) to 1 (full scale). */
  level() {
    if (!this.analyser) return 0;
    const track = this.stream?.getAudioTracks()[0];
    if (track && !track.enabled) return 0;
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const v of this.buf) sum += v * v;
    const rms = Math.sqrt(sum / this.buf.length);
    const db = 20 * Math.log10(rms + 1e-9);
    return Math.min(1, Math.max(0, (db + 60) / 60));
  }

  /** Two short, soft tones through the default output. */
  async testSpeaker() {
    const ctx = this.audioContext();
    if (!ctx) return false;
    await ctx.resume().catch(() => {});
    const t0 = ctx.currentTime + 0.05;
    [[523.25, 0], [659.25, 0.45]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0, t0 + at);
      gain.gain.linearRampToValueAtTime(0.25, t0 + at + 0.04);
      gain.gain.exponentialRampToValueAtTime(0.001, t0 + at + 0.4);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.42);
    });
    return true;
  }

  /** Switches the microphone on or off without giving it up. */
  setEnabled(on) {
    for (const t of this.stream?.getAudioTracks() || []) t.enabled = on;
  }

  /** Stops the microphone for good (listen-only). */
  release() {
    for (const t of this.stream?.getTracks() || []) t.stop();
    this.source?.disconnect();
    this.stream = null;
    this.source = null;
    this.analyser = null;
  }
}
