// A learner whose network lets no UDP through to the server reaches it through a TURN
// relay: a real coturn (Debian's package), started here on loopback with the shared
// secret, and two Chromium pages told to use relays only (`?ice=relay`), as a firewall
// that blocks UDP to the server leaves them. Each hears the other, and each page's
// selected candidate pair is a relayed one: the audio went through coturn both ways.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, heardBy, eventually } from './harness.js';

const TURN_SECRET = 'turn-shared-secret-0123456789';

function turnserverPath() {
  try {
    return execFileSync('sh', ['-c', 'command -v turnserver'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('coturn is not installed: scripts/test installs it (apt-get install coturn)');
  }
}

/** Starts coturn on 127.0.0.1:`port`; resolves once it listens. */
async function startCoturn(port) {
  const child = spawn(turnserverPath(), [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--min-port=49400', '--max-port=49500', '--use-auth-secret', `--static-auth-secret=${TURN_SECRET}`,
    '--realm=talkstick.test', '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli',
    '--fingerprint', '--log-file=stdout', '--simple-log', '--no-stun-backward-compatibility',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  await eventually(async () => assert.match(log, /(Total General servers|listener opened on|IPv4\. UDP listener)/), 10_000)
    .catch((e) => { throw new Error(`coturn did not start:\n${log}`, { cause: e }); });
  return { child, log: () => log, stop: () => child.kill('SIGTERM') };
}

/** The candidate types of the page's selected pair. */
function selectedPair(page) {
  return page.evaluate(async () => {
    const stats = await window.talkstickMedia.pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    if (!pair) return null;
    return { local: stats.get(pair.localCandidateId)?.candidateType, remote: stats.get(pair.remoteCandidateId)?.candidateType };
  });
}

describe('audio through a TURN relay', () => {
  let coturn;
  let server;
  let chrome;
  let scratch;
  const pages = {};

  before(async () => {
    const port = 34000 + Math.floor(Math.random() * 900);
    coturn = await startCoturn(port);
    server = await startServer({
      learners: 2,
      args: ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', TURN_SECRET],
    });
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-turn-'));
    const voice = path.join(scratch, 'voice.wav');
    voiceWav(voice, { f0: 210, gain: 0.45 });
    chrome = await launchBrowser({ fakeAudio: voice });
    for (const name of ['Aino', 'Bertil']) {
      const url = `${server.links.find((l) => l.name === name).url}&ice=relay`;
      pages[name] = await newPage(chrome.browser, url, { rawMic: true });
      await pages[name].locator('#start-mic-on').check();
      await join(pages[name]);
    }
  });

  after(async () => {
    await chrome?.close();
    await server?.stop();
    coturn?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('each hears the other, and both connections are relayed', async () => {
    const welcome = await pages.Aino.evaluate(() => window.talkstick.store.iceServers);
    assert.equal(welcome.length, 1);
    assert.match(welcome[0].username, /^\d+:\d+$/, 'TURN REST user name: expiry:participant');
    try {
      await eventually(async () => assert.deepEqual(Object.keys(await heardBy(pages.Aino)), ['Bertil']), 20_000);
      await eventually(async () => assert.deepEqual(Object.keys(await heardBy(pages.Bertil)), ['Aino']), 20_000);
    } catch (e) {
      throw new Error(`no audio through the relay:\n${coturn.log().slice(-3000)}\n${server.logs().slice(-2000)}`, { cause: e });
    }
    for (const [name, page] of Object.entries(pages)) {
      assert.deepEqual(await selectedPair(page), { local: 'relay', remote: 'host' }, `${name}'s audio goes through the relay`);
      assert.deepEqual(page.problems, []);
    }
    // The operator sees them as relayed peers.
    await eventually(async () => {
      const { media } = await (await fetch(`${server.base}/healthz`)).json();
      assert.deepEqual(media.peer_states, { connecting: 0, udp: 0, tcp: 0, relayed: 2 });
    }, 5000);
  });
});
