// Open discussion as a group lives it: a facilitator and five learners in Chromium, every
// microphone on, voices in talk spurts for a minute. Speech starts and stops all the
// time and the server keeps changing who is heard in whose slots; through all of it no
// page may reconnect, show a reconnect notice or see a gap in the event stream.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, screenshots, writeWav } from './harness.js';

const DISCUSSION_MS = 60_000;

/**
 * A 16-bit mono WAV of speech-like talk spurts: `talkMs` of a harmonic voice with
 * syllables, then `pauseMs` of silence, over and over (the fake microphone loops it).
 */
function spurtsWav(file, { f0, talkMs, pauseMs }) {
  const rate = 48000;
  const period = ((talkMs + pauseMs) * rate) / 1000;
  const n = period * 4;
  const data = Buffer.alloc(n * 2);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const inTalk = (i % period) < (talkMs * rate) / 1000;
    phase += (2 * Math.PI * f0 * (1 + 0.08 * Math.sin(2 * Math.PI * 0.7 * t))) / rate;
    const envelope = inTalk ? Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 0.5 : 0;
    const v = (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.3 * Math.sin(3 * phase)) / 1.8;
    data.writeInt16LE(Math.round(v * envelope * 0.4 * 32767), i * 2);
  }
  writeWav(file, data, rate);
}

/** What one page went through: WebSockets opened, messages, sequence gaps, notices. */
function watch(page, name) {
  const seen = { name, sockets: 0, messages: 0, gaps: [], types: {}, last: null };
  page.on('websocket', (ws) => {
    seen.sockets += 1;
    seen.last = null; // a new connection starts counting at its welcome
    ws.on('framereceived', (f) => {
      let msg;
      try { msg = JSON.parse(String(f.payload)); } catch { return; }
      seen.messages += 1;
      seen.types[msg.type] = (seen.types[msg.type] || 0) + 1;
      if (typeof msg.seq !== 'number' || msg.seq === 0) return;
      if (seen.last !== null && (msg.seq > seen.last + 1 || msg.seq < seen.last)) {
        seen.gaps.push(`${msg.type} ${msg.seq} after ${seen.last}`);
      }
      seen.last = Math.max(seen.last ?? 0, msg.seq);
    });
  });
  return seen;
}

describe('six people in open discussion for a minute', () => {
  let server;
  let scratch;
  const browsers = [];
  const pages = [];
  const watched = [];

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-discussion-'));
    // Two voices with different rhythms; the three pages of one browser speak together,
    // so several people start and stop at the same moment.
    const voices = [
      { f0: 200, talkMs: 1400, pauseMs: 900 },
      { f0: 330, talkMs: 900, pauseMs: 700 },
    ].map((v, k) => {
      const file = path.join(scratch, `voice-${k}.wav`);
      spurtsWav(file, v);
      return file;
    });
    server = await startServer();
    for (const file of voices) browsers.push(await launchBrowser({ fakeAudio: file }));
    for (const [k, link] of server.links.entries()) {
      const page = await newPage(browsers[k % 2].browser, link.url, { rawMic: true });
      // Five pages already talking keep two cores busy: joining the sixth may be slow.
      page.setDefaultTimeout(20_000);
      watched.push(watch(page, link.name));
      await page.locator('#start-mic-on').check();
      await join(page);
      pages.push(page);
    }
  });

  after(async () => {
    for (const p of pages) {
      if (p.problems.length) console.error(`problems on a page: ${p.problems.join('\n')}`);
    }
    for (const b of browsers) await b.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('nobody reconnects, sees a notice of it, or misses an event', { timeout: DISCUSSION_MS + 120_000 }, async () => {
    // Each page counts its own reconnect notices as they appear (polling six busy pages
    // from here every second would itself load the two cores the pages share).
    await Promise.all(pages.map((page) => page.evaluate(() => {
      window.__reconnectNotices = 0;
      const seen = new WeakSet();
      const check = () => {
        for (const el of document.querySelectorAll('.toasts > *')) {
          if (seen.has(el)) continue;
          seen.add(el);
          if (/Reconnect|Connection lost/.test(el.textContent)) window.__reconnectNotices += 1;
        }
      };
      new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
      check();
    })));
    await new Promise((r) => setTimeout(r, DISCUSSION_MS));
    const notices = await Promise.all(pages.map((page) => page.evaluate(() => window.__reconnectNotices)));
    const report = watched.map((w, k) => ({
      name: w.name,
      sockets: w.sockets,
      gaps: w.gaps,
      notices: notices[k],
      speaking: w.types.speaking || 0,
      slots: w.types.slots || 0,
    }));
    // The discussion really moved: speech started and stopped, slots changed.
    for (const r of report) {
      assert.ok(r.speaking >= 20 && r.slots >= 10, `a lively minute: ${JSON.stringify(r)}`);
    }
    for (const r of report) {
      assert.equal(r.sockets, 1, `one connection all along: ${JSON.stringify(r)}`);
      assert.deepEqual(r.gaps, [], `no gap in the event stream: ${JSON.stringify(r)}`);
      assert.equal(r.notices, 0, `no reconnect notice: ${JSON.stringify(r)}`);
    }
    // A picture of the facilitator's page, for looking at; six pages talking keep the
    // cores busy, so a slow capture is not a failure and is given up after 20 s.
    const giveUp = new Promise((r) => setTimeout(() => r('took longer than 20 s'), 20_000));
    const shot = pages[0].screenshot({ path: path.join(screenshots, 'discussion-facilitator.png'), timeout: 20_000 })
      .then(() => null, (e) => e.message);
    const failed = await Promise.race([shot, giveUp]);
    if (failed) console.error(`no screenshot: ${failed}`);
  });
});
