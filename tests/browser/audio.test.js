// Audio through the server between two real Chromium processes, each with its own
// voice (a different fake microphone file): each hears the other, and the speaking
// indicator follows who speaks.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, inbound } from './harness.js';

async function eventually(check, ms, what) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await check();
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

const speaking = (page, name) => page.locator(`#people > li[data-name="${name}"]`).evaluate((el) => el.classList.contains('speaking'));

/** Records every `speaking` message a page receives, from the start. */
function recordSpeaking(page) {
  const events = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    const text = String(f.payload);
    if (text.includes('"type":"speaking"')) events.push(JSON.parse(text));
  }));
  return events;
}

describe('two browsers talk through the server', () => {
  let server;
  let scratch;
  let one;
  let two;
  let aino;
  let bertil;
  let fac;
  let heardByBertil;
  let ids;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-voices-'));
    const low = path.join(scratch, 'low.wav');
    const high = path.join(scratch, 'high.wav');
    voiceWav(low, { f0: 220, gain: 0.5 });
    voiceWav(high, { f0: 440, gain: 0.25 });
    server = await startServer();
    one = await launchBrowser({ fakeAudio: low });
    two = await launchBrowser({ fakeAudio: high });
    const link = (name) => server.links.find((l) => l.name === name).url;
    aino = await newPage(one.browser, link('Aino'), { rawMic: true });
    bertil = await newPage(two.browser, link('Bertil'), { rawMic: true });
    heardByBertil = recordSpeaking(bertil);
    for (const page of [aino, bertil]) {
      await page.locator('#start-mic-on').check();
      await join(page);
    }
    // The facilitator listens only (a third person, in Aino's browser).
    fac = await newPage(one.browser, link('Facilitator'));
    await join(fac, { listenOnly: true });
  });

  after(async () => {
    await one?.close();
    await two?.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('each hears the other: packets and energy arrive', async () => {
    for (const [page, who] of [[aino, 'Aino'], [bertil, 'Bertil']]) {
      const got = await eventually(async () => {
        const s = await inbound(page);
        return { ...s, ok: s.packets > 100 && s.energy > 0.001 };
      }, 20_000, `${who} receiving audio`);
      assert.equal(got.state, 'connected');
    }
  });

  it('the speaking indicator follows who speaks', async () => {
    const ainoId = await bertil.locator('#people > li[data-name="Aino"]').getAttribute('data-pid');
    ids = { aino: Number(ainoId) };
    const lastForAino = () => heardByBertil.filter((e) => e.participant === ids.aino).at(-1);
    // Aino may have been speaking since before Bertil joined (his snapshot said so): a
    // fresh start makes the server tell him again, as it would for anyone who starts.
    await aino.keyboard.press('m');
    await eventually(async () => ({ ok: lastForAino()?.speaking === false || !(await speaking(bertil, 'Aino')) }), 10_000, 'Aino quiet');
    await aino.keyboard.press('m');
    // The server said Aino speaks, and Bertil's page showed it.
    await eventually(async () => ({ ok: lastForAino()?.speaking === true && (await speaking(bertil, "Aino")), events: heardByBertil, aino: ids.aino }), 20_000, 'Aino shown speaking');
    await eventually(async () => ({ ok: await speaking(aino, 'Bertil') }), 20_000, 'Bertil shown speaking');
    // Aino closes her microphone: she stops speaking on Bertil's page.
    await aino.keyboard.press('m');
    await eventually(async () => ({ ok: lastForAino()?.speaking === false && !(await speaking(bertil, 'Aino')) }), 10_000, 'Aino no longer speaking');
    assert.deepEqual(aino.problems, []);
    assert.deepEqual(bertil.problems, []);
  });

  it('moderated mode silences everyone but the floor holder at the listeners', async () => {
    // Aino's microphone is back on; both speak.
    await aino.keyboard.press('m');
    await eventually(async () => ({ ok: await speaking(bertil, 'Aino') }), 20_000, 'Aino speaking again');
    await fac.check('#set-mode-moderated');
    const still = async (page, who) => {
      const a = await inbound(page);
      await new Promise((r) => setTimeout(r, 1500));
      const b = await inbound(page);
      return { ok: b.packets - a.packets < 5, who, before: a.packets, after: b.packets };
    };
    // Nobody holds the floor: the server forwards neither learner.
    await eventually(() => still(aino, 'Aino hears nothing'), 10_000, 'Aino hearing nothing');
    await eventually(() => still(bertil, 'Bertil hears nothing'), 10_000, 'Bertil hearing nothing');
    // Bertil gets the floor: Aino hears him again; he still hears nobody.
    await fac.locator('#people > li[data-name="Bertil"] [data-action="grant"]').click();
    await bertil.locator('#accept-floor').click();
    const before = await inbound(aino);
    await eventually(async () => {
      const now = await inbound(aino);
      return { ok: now.packets - before.packets > 50 && now.energy > before.energy, ...now };
    }, 10_000, 'Aino hearing the holder');
    await eventually(() => still(bertil, 'Bertil hears nothing'), 10_000, 'Bertil still hearing nothing');
    assert.deepEqual(fac.problems, []);
  });
});
