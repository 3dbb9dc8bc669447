// A native participant (`talkstick join`, headless with WAV files) and a Chromium
// learner in one room: each hears the other. The page's received energy and the names
// in its slots show it hears the native client; the native client's output file shows
// the page's voice by its spectrum (and not the client's own).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, heardBy, eventually, binary, screenshots } from './harness.js';

/** 16-bit mono samples of a WAV file as floats. */
function readWav(file) {
  const b = readFileSync(file);
  let pos = 12;
  while (pos + 8 <= b.length) {
    const id = b.toString('ascii', pos, pos + 4);
    const size = b.readUInt32LE(pos + 4);
    if (id === 'data') {
      const n = Math.floor(Math.min(size, b.length - pos - 8) / 2);
      return Float32Array.from({ length: n }, (_, i) => b.readInt16LE(pos + 8 + 2 * i) / 32768);
    }
    pos += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

/** Power around `f0` (its band ±10 %, Goertzel at 1 Hz steps), per sample. */
function bandPower(samples, f0) {
  let total = 0;
  for (let f = Math.round(f0 * 0.9); f <= Math.round(f0 * 1.1); f += 1) {
    const w = (2 * Math.PI * f) / 48000;
    const coeff = 2 * Math.cos(w);
    let s1 = 0;
    let s2 = 0;
    for (const x of samples) {
      const s = x + coeff * s1 - s2;
      s2 = s1;
      s1 = s;
    }
    total += (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.length;
  }
  return total;
}

describe('a native participant and a browser', () => {
  let server;
  let scratch;
  let chrome;
  let aino;
  let native;
  let nativeErr = '';
  let nativeExit;
  const seconds = 14;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-native-'));
    voiceWav(path.join(scratch, 'page.wav'), { f0: 220, gain: 0.5 });
    voiceWav(path.join(scratch, 'native.wav'), { f0: 300, gain: 0.5, seconds: 4 });
    server = await startServer({ learners: 2 });
    chrome = await launchBrowser({ fakeAudio: path.join(scratch, 'page.wav') });
    const link = (name) => server.links.find((l) => l.name === name).url;
    aino = await newPage(chrome.browser, link('Aino'), { rawMic: true });
    await aino.locator('#start-mic-on').check();
    await join(aino);
    native = spawn(binary, ['join', '--no-tui', '--input-file', path.join(scratch, 'native.wav'), '--loop',
      '--output-file', path.join(scratch, 'heard.wav'), '--seconds', String(seconds), link('Bertil')], { stdio: ['ignore', 'ignore', 'pipe'] });
    native.stderr.on('data', (d) => { nativeErr += d; });
    nativeExit = new Promise((resolve) => native.on('exit', (code) => resolve(code)));
  });

  after(async () => {
    native?.kill('SIGKILL');
    await chrome?.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('the page hears the native participant, and shows them speaking', async () => {
    await aino.locator('#people > li[data-name="Bertil"]').waitFor({ timeout: 15_000 });
    const heard = await eventually(async () => {
      const h = await heardBy(aino);
      assert.ok(h.Bertil, `Aino hears Bertil: ${JSON.stringify(h)}`);
      return h;
    }, 15_000);
    assert.ok(heard.Bertil.energy > 1e-4, JSON.stringify(heard));
    await eventually(async () => assert.ok(
      await aino.locator('#people > li[data-name="Bertil"]').evaluate((el) => el.classList.contains('speaking')),
      'Bertil shown speaking',
    ), 10_000);
    // Its microphone shows as on, as the client runs it.
    assert.match(await aino.locator('#people > li[data-name="Bertil"]').textContent(), /Mic on/);
    await aino.screenshot({ path: path.join(screenshots, 'native-and-page.png') });
    assert.deepEqual(aino.problems, []);
  });

  it('the native participant hears the page: its file has the page voice, not its own', async () => {
    const code = await eventually(async () => {
      assert.notEqual(native.exitCode, null, 'still running');
      return native.exitCode;
    }, (seconds + 10) * 1000);
    assert.equal(code, 0, nativeErr);
    assert.equal(await nativeExit, 0);
    assert.match(nativeErr, /You left the room/);
    const played = Number(/played (\d+)/.exec(nativeErr)?.[1] ?? 0);
    assert.ok(played > 200, `frames played: ${nativeErr}`);
    const samples = readWav(path.join(scratch, 'heard.wav'));
    assert.ok(samples.length >= 48000 * (seconds - 2), `${samples.length} samples`);
    // The last four seconds: both were talking all along.
    const tail = samples.slice(samples.length - 48000 * 4);
    const energy = tail.reduce((a, x) => a + x * x, 0) / tail.length;
    assert.ok(energy > 1e-4, `energy ${energy}`);
    const page = bandPower(tail, 220);
    const own = bandPower(tail, 300);
    assert.ok(page > 20 * own, `page voice ${page} against the client's own ${own}`);
    // The page saw Bertil leave.
    await eventually(async () => assert.equal(await aino.locator('#people > li[data-name="Bertil"]').count(), 0), 10_000);
  });
});
