// ICE over TCP: a learner whose network lets no UDP through to the server still talks,
// with no relay, because the server also listens on TCP (passive candidates, RFC 4571
// framing). Three set-ups, each with two Chromium pages that must hear each other:
// - both transports offered, nothing blocked: the pages choose UDP;
// - only TCP offered (`--ice-transports tcp`): the pages connect over TCP;
// - both offered, but a real firewall rule (nftables, made by the test) drops UDP to the
//   server's media port: the pages fall back to TCP on their own. Needs root and nft;
//   skipped with the reason otherwise.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, heardBy, eventually } from './harness.js';

/** The protocol and candidate types of the page's selected candidate pair. */
function selectedPair(page) {
  return page.evaluate(async () => {
    const stats = await window.talkstickMedia.pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    return { protocol: local?.protocol, remote: stats.get(pair.remoteCandidateId)?.candidateType };
  });
}

const TABLE = `talkstick_test_${process.pid}`;

/** Why nft cannot be used here, or null when it can. */
function nftUnavailable() {
  try {
    execFileSync('nft', ['add', 'table', 'inet', TABLE], { stdio: 'pipe' });
    execFileSync('nft', ['delete', 'table', 'inet', TABLE], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `nftables is not usable here (${String(e.stderr || e.message).trim().split('\n')[0]}); needs root and the nftables package`;
  }
}

/** Drops UDP to `port` on this machine (loopback included) until `unblock`. */
function blockUdp(port) {
  execFileSync('nft', ['add', 'table', 'inet', TABLE]);
  execFileSync('nft', ['add', 'chain', 'inet', TABLE, 'input', '{ type filter hook input priority 0 ; }']);
  execFileSync('nft', ['add', 'rule', 'inet', TABLE, 'input', 'udp', 'dport', String(port), 'counter', 'drop']);
  return {
    dropped: () => Number(/packets (\d+)/.exec(execFileSync('nft', ['list', 'table', 'inet', TABLE], { encoding: 'utf8' }))?.[1] ?? 0),
    unblock: () => execFileSync('nft', ['delete', 'table', 'inet', TABLE]),
  };
}

function twoPagesHearEachOther({ args = [], firewall = false, expect }) {
  return () => {
    let server;
    let chrome;
    let scratch;
    let block;
    const pages = {};

    before(async () => {
      server = await startServer({ learners: 2, args });
      if (firewall) block = blockUdp(server.media.find((m) => m.proto === 'udp').port);
      scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-tcp-'));
      const voice = path.join(scratch, 'voice.wav');
      voiceWav(voice, { f0: 190, gain: 0.45 });
      chrome = await launchBrowser({ fakeAudio: voice });
      for (const name of ['Aino', 'Bertil']) {
        pages[name] = await newPage(chrome.browser, server.links.find((l) => l.name === name).url, { rawMic: true });
        await pages[name].locator('#start-mic-on').check();
        await join(pages[name]);
      }
    });

    after(async () => {
      block?.unblock();
      await chrome?.close();
      await server?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it(`each hears the other, over ${expect}`, async () => {
      const offered = server.media.map((m) => m.proto).sort();
      assert.deepEqual(offered, args.includes('tcp') ? ['tcp'] : ['tcp', 'udp'], 'what the server says it offers');
      try {
        await eventually(async () => assert.deepEqual(Object.keys(await heardBy(pages.Aino)), ['Bertil']), 20_000);
        await eventually(async () => assert.deepEqual(Object.keys(await heardBy(pages.Bertil)), ['Aino']), 20_000);
      } catch (e) {
        throw new Error(`no audio over ${expect}:\n${server.logs().slice(-3000)}`, { cause: e });
      }
      for (const [name, page] of Object.entries(pages)) {
        assert.deepEqual(await selectedPair(page), { protocol: expect, remote: 'host' }, `${name}'s audio goes over ${expect}`);
        assert.deepEqual(page.problems, []);
      }
      if (block) assert.ok(block.dropped() > 0, 'the firewall did drop UDP on the way');
      // The operator sees the same: peers by transport in /healthz and /metrics.
      // (Rooms publish their peers' states with their timers, about once a second.)
      await eventually(async () => {
        const { media } = await (await fetch(`${server.base}/healthz`)).json();
        assert.deepEqual(media.peer_states, { connecting: 0, udp: expect === 'udp' ? 2 : 0, tcp: expect === 'tcp' ? 2 : 0, relayed: 0 });
        // A browser may keep a TCP pair open beside the UDP one it uses: only "some"
        // is checked, and only when TCP carries the audio.
        if (expect === 'tcp') assert.ok(media.tcp_connections > 0, JSON.stringify(media));
        const metrics = await (await fetch(`${server.base}/metrics`)).text();
        assert.match(metrics, new RegExp(`talkstick_media_peers\\{state="connected",transport="${expect}"\\} 2`));
      }, 5000);
    });
  };
}

describe('both transports offered and UDP open: UDP is chosen', twoPagesHearEachOther({ expect: 'udp' }));
describe('only TCP offered: audio over TCP', twoPagesHearEachOther({ args: ['--ice-transports', 'tcp'], expect: 'tcp' }));
const noNft = nftUnavailable();
describe('a firewall drops UDP to the server: audio over TCP', { skip: noNft ?? false },
  twoPagesHearEachOther({ firewall: true, expect: 'tcp' }));
