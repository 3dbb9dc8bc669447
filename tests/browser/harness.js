// Test harness: starts the real server binary on a free port, mints tokens with the
// binary itself, and launches Debian's Chromium through playwright-core. Every wait
// is bounded.

import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..');
export const binary = process.env.TALKSTICK_BIN || path.join(repo, 'target', 'debug', 'talkstick');
export const screenshots = path.join(repo, 'target', 'screenshots');
export const SECRET = 'browser-tests-secret-0123456789';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const TIMED_OUT = Symbol('timed out');

/** Resolves with `promise`'s value, or `TIMED_OUT` after `ms`, leaving no timer behind. */
/** Retries `check` until it stops throwing, for at most `ms` (then its error stands). The
 *  default allows for a machine slowed by the pages and server it runs. */
export async function eventually(check, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    try { return await check(); } catch (e) { if (Date.now() > until) throw e; }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function bounded(promise, ms) {
  let timer;
  const limit = new Promise((r) => { timer = setTimeout(() => r(TIMED_OUT), ms); });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A 16-bit mono WAV of a voice-like sound: a harmonic tone at `f0` whose loudness rises
 * and falls four times a second (syllables), so voice processing keeps it as speech.
 */
export function voiceWav(file, { f0, gain, seconds = 10 }) {
  const rate = 48000;
  const n = rate * seconds;
  const data = Buffer.alloc(n * 2);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f = f0 * (1 + 0.08 * Math.sin(2 * Math.PI * 0.7 * t));
    phase += (2 * Math.PI * f) / rate;
    const envelope = Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 0.5;
    const v = (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.3 * Math.sin(3 * phase)) / 1.8;
    data.writeInt16LE(Math.round(v * envelope * gain * 32767), i * 2);
  }
  writeWav(file, data, rate);
}

/** Sums the inbound audio stats of a page's peer connection. */
export const inbound = (page) => page.evaluate(async () => {
  const pc = window.talkstickMedia?.pc;
  if (!pc) return { packets: 0, energy: 0, state: 'none' };
  const stats = await pc.getStats();
  let packets = 0;
  let energy = 0;
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') {
      packets += r.packetsReceived || 0;
      energy += r.totalAudioEnergy || 0;
    }
  });
  return { packets, energy, state: pc.connectionState };
});

/**
 * Who a listener's page hears, by name, over `ms`: the packets and audio energy each of
 * its audio slots received, credited to the participant the server says is in that slot
 * (`slots` messages; the page keeps them in `talkstickMedia.slots`). A slot whose holder
 * changed during the window is credited to neither.
 */
export async function heardBy(page, ms = 1500) {
  const sample = () => page.evaluate(async () => {
    const m = window.talkstickMedia;
    const out = {};
    if (!m?.pc) return out;
    const names = new Map([...document.querySelectorAll('#people > li[data-pid]')].map((li) => [Number(li.dataset.pid), li.dataset.name]));
    const stats = await m.pc.getStats();
    stats.forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'audio') return;
      const pid = m.slots.get(r.mid);
      out[r.mid] = { who: pid === undefined ? null : (names.get(pid) ?? `#${pid}`), packets: r.packetsReceived || 0, energy: r.totalAudioEnergy || 0 };
    });
    return out;
  });
  const a = await sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = await sample();
  const heard = {};
  for (const [mid, now] of Object.entries(b)) {
    const then = a[mid];
    if (!now.who || !then || then.who !== now.who) continue;
    const packets = now.packets - then.packets;
    const energy = now.energy - then.energy;
    // 20 ms packets: a speaker forwarded for the window sends ~50 a second.
    if (packets > (ms / 20) * 0.5 && energy > 1e-5) heard[now.who] = { packets, energy: Number(energy.toFixed(5)) };
  }
  return heard;
}

/** Starts `talkstick serve` on 127.0.0.1:0; resolves `{base, links, stop()}`. */
export async function startServer({ room = 'demo', learners = 5, timeoutMs = 15_000, dataDir, port = 0, args: extra = [] } = {}) {
  // Audio on loopback only, on any free UDP port. Each server keeps its sessions in a
  // data dir of its own (a fresh one, removed when it stops, unless the test gives one
  // to start a server again on).
  const ownDir = dataDir === undefined ? mkdtempSync(path.join(tmpdir(), 'talkstick-data-')) : null;
  const args = ['serve', '--bind', `127.0.0.1:${port}`, '--secret', SECRET, '--demo', '--demo-room', room, '--demo-learners', String(learners),
    '--media-ip', '127.0.0.1', '--udp-port', '0', '--data-dir', dataDir ?? ownDir, ...extra];
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not print its links within ${timeoutMs} ms:\n${out}\n${err}`)), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${out}\n${err}`)); });
    child.stdout.on('data', (d) => {
      out += d;
      const addr = /Talkstick is listening on (http:\/\/[\d.:]+)/.exec(out);
      const links = [...out.matchAll(/^\s+(\S.*?)\s+(facilitator|learner)\s+(http\S+)$/gm)]
        .map((m) => ({ name: m[1].trim(), role: m[2], url: m[3] }));
      if (addr && links.length === learners + 1) {
        clearTimeout(timer);
        // "Audio on udp 127.0.0.1:50000, tcp 127.0.0.1:50000": the media addresses.
        const media = [...(/^Audio on (.*)$/m.exec(out)?.[1] ?? '').matchAll(/(udp|tcp) ([\d.]+):(\d+)/g)]
          .map((m) => ({ proto: m[1], ip: m[2], port: Number(m[3]) }));
        resolve({ base: addr[1], links, media });
      }
    });
  });
  const info = await ready;
  child.removeAllListeners('exit');
  return {
    ...info,
    child,
    logs: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // SIGINT stops at once (SIGTERM would drain first, for up to --drain-timeout).
        child.kill('SIGINT');
        if ((await bounded(exited, 5000)) === TIMED_OUT) {
          child.kill('SIGKILL');
          await bounded(exited, 2000);
        }
      }
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
    /** Kills the server at once (SIGKILL), as a crash would; resolves when it is gone. */
    async crash() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await bounded(exited, 5000);
    },
  };
}

/** Writes `data` (16-bit little-endian mono samples at `rate`) as a WAV file. */
export function writeWav(file, data, rate = 48000) {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + data.length, 4); header.write('WAVE', 8);
  header.write('fmt ', 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24); header.writeUInt32LE(rate * 2, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34);
  header.write('data', 36); header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
}

/** A join link minted by `talkstick token`. */
export function mintLink(base, { room = 'demo', name, role = 'learner' }) {
  return execFileSync(binary, ['token', '--secret', SECRET, '--room', room, '--name', name, '--role', role, '--url', base], { encoding: 'utf8' }).trim();
}

/** A correctly signed token whose `exp` is in the past (the CLI cannot mint one). */
export function expiredToken({ room = 'demo', name = 'Late Learner', role = 'learner', secondsAgo = 3600 } = {}) {
  const b64 = (s) => Buffer.from(s).toString('base64url');
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ room, name, role, exp: Math.floor(Date.now() / 1000) - secondsAgo }));
  const sig = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/**
 * Launches Chromium with a fresh profile and TMPDIR under one scratch folder; `close()`
 * cleans up. playwright-core refuses `--user-data-dir` in `launch()` (several contexts
 * need a plain launch), and it puts its own fresh profile under `os.tmpdir()`, so
 * pointing TMPDIR at the scratch folder gives both.
 */
export async function launchBrowser({ fakeAudio } = {}) {
  const scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-browser-'));
  const tmp = path.join(scratch, 'tmp');
  mkdirSync(tmp);
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
    '--allow-loopback-in-peer-connection',
  ];
  if (fakeAudio) args.push(`--use-file-for-fake-audio-capture=${fakeAudio}`);
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args, env: { ...process.env, TMPDIR: tmp }, timeout: 30_000 });
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = savedTmp;
  }
  return {
    browser,
    async close() {
      await bounded(browser.close(), 10_000);
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** A new person: a context with microphone permission, at a given viewport. */
export async function newPage(browser, url, { width = 1280, height = 720, grantMic = true, rawMic = false, touch = false } = {}) {
  // `touch`: a phone (coarse pointer, touch events), as a learner on a phone has it.
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true, hasTouch: touch, isMobile: touch });
  if (rawMic) {
    // Test voices are synthetic: the browser's voice processing (noise suppression, gain
    // control) may squash them unpredictably, so tests that measure levels turn it off.
    await context.addInitScript(() => {
      const md = navigator.mediaDevices;
      const original = md.getUserMedia.bind(md);
      md.getUserMedia = (c = {}) => {
        const audio = typeof c.audio === 'object' ? c.audio : {};
        return original({ ...c, audio: { ...audio, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      };
    });
  }
  if (grantMic) await context.grantPermissions(['microphone'], { origin: new URL(url).origin });
  const page = await context.newPage();
  // Waits for the page to act (a click, an element), not judgements of speed: on two
  // cores shared with a server and up to six pages, the machine has stalled a click past
  // 8 s ("waiting for scheduled navigations").
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|media\.js/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.problems = problems;
  // Loading the page is not what the tests judge: six pages opening at once on two busy
  // cores have taken over 8 s here.
  await page.goto(url, { timeout: 30_000 });
  return page;
}

/** Goes through the pre-join screen with the microphone. */
export async function join(page, { listenOnly = false } = {}) {
  await page.locator('#join-listen').waitFor();
  // Wait until the microphone is open (its list is filled) before joining with it.
  if (!listenOnly) await page.locator('#mic-select option').first().waitFor({ state: 'attached' });
  await page.click(listenOnly ? '#join-listen' : '#join');
  await page.locator('#floor-holder').waitFor();
}

/**
 * The contrast ratio (WCAG 2) of an element's text against what it is drawn on: its
 * own background, or the first ancestor's that is not transparent.
 */
export async function contrastOf(locator) {
  // A locator's evaluate first finds the element and then runs in it: a list drawn again
  // in between leaves a detached element with no computed style. Ask again then.
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const ratio = await contrastOnce(locator);
    if (Number.isFinite(ratio)) return ratio;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the element was drawn again on every attempt to measure its contrast');
}

async function contrastOnce(locator) {
  return locator.evaluate((el) => {
    if (!el.isConnected) return NaN;
    const rgba = (s) => (s.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const lin = (c) => { const v = c / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    let bg = [255, 255, 255];
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) { bg = c; break; }
    }
    const fg = rgba(getComputedStyle(el).color);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
}
