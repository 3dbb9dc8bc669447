// Turn-taking rules as a group lives them, with the audio checked where it matters: at
// the listeners. A facilitator and a fourth learner listen only; three learners speak
// (every microphone on, a voice-like fake microphone). Who each listener hears is read
// from its own peer connection — packets and audio energy per slot, credited to the
// person the server put in that slot — so a rule that holds in the room's state but
// not in the forwarding fails here.
//
// The scenarios follow one another in one room, as a session would: the ping-pong of
// replies with a new point waiting (moderated), "mute all" with a request to unmute
// (open), and an away learner whose place is kept while the floor passes them by.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, heardBy, eventually, screenshots } from './harness.js';

/** Waits until each listener hears exactly `names` (and nobody else). */
async function hears(listeners, names, ms = 15_000) {
  const want = [...names].sort();
  for (const [who, page] of Object.entries(listeners)) {
    let last;
    try {
      await eventually(async () => {
        last = await heardBy(page);
        assert.deepEqual(Object.keys(last).sort(), want);
      }, ms);
    } catch (e) {
      throw new Error(`${who} should hear ${JSON.stringify(want)}, heard ${JSON.stringify(last)}`, { cause: e });
    }
  }
}

const row = (page, name) => page.locator(`#people > li[data-name="${name}"]`);
const offeredTo = (page) => page.evaluate(() => window.talkstick?.store?.floor?.offered_to ?? null);

describe('turn-taking heard at the listeners', () => {
  let server;
  let scratch;
  let browser;
  const p = {};
  let listeners;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-turns-'));
    const voice = path.join(scratch, 'voice.wav');
    voiceWav(voice, { f0: 200, gain: 0.45 });
    server = await startServer({ learners: 4 });
    browser = await launchBrowser({ fakeAudio: voice });
    const link = (name) => server.links.find((l) => l.name === name).url;
    p.fac = await newPage(browser.browser, link('Facilitator'));
    await join(p.fac, { listenOnly: true });
    for (const name of ['Aino', 'Bertil', 'Chen']) {
      p[name] = await newPage(browser.browser, link(name), { rawMic: true });
      await p[name].locator('#start-mic-on').check();
      await join(p[name]);
    }
    p.Dalia = await newPage(browser.browser, link('Dalia'));
    await join(p.Dalia, { listenOnly: true });
    listeners = { facilitator: p.fac, Dalia: p.Dalia };
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('open mode: every open microphone is heard', async () => {
    // The first check also waits for five pages' audio to connect, on two cores shared
    // with the rest of the suite: it gets longer than the checks after it.
    await hears(listeners, ['Aino', 'Bertil', 'Chen'], 30_000);
  });

  it('ping-pong: two replies in a row, then the new point waiting is heard (moderated)', async () => {
    await p.fac.check('#set-mode-moderated');
    await hears(listeners, []);
    const take = async (name) => {
      await p[name].locator('#accept-floor').click();
      await eventually(async () => assert.match(await p.fac.locator('#floor-holder').textContent(), new RegExp(name)));
    };
    // Aino opens with a new point; Chen raises one of his own while she speaks.
    await p.Aino.click('#raise-new');
    await take('Aino');
    await hears(listeners, ['Aino']);
    await p.Chen.click('#raise-new');
    // Bertil answers Aino, Aino answers Bertil: two replies, each heard alone.
    let speaker = 'Aino';
    for (const replier of ['Bertil', 'Aino']) {
      await p[replier].click('#raise-reply');
      await eventually(async () => assert.match(await p[replier].locator('#my-hand').textContent(), /reply/i));
      await p[speaker].click('#done');
      await take(replier);
      await hears(listeners, [replier]);
      speaker = replier;
    }
    // A third reply waits: Chen's new point goes first, and only Chen is heard.
    await p.Bertil.click('#raise-reply');
    await eventually(async () => assert.match(await p.Bertil.locator('#my-hand').textContent(), /reply/i));
    await p.Aino.click('#done');
    await p.Chen.locator('#youre-up').waitFor();
    assert.equal(await p.Bertil.locator('#youre-up').isVisible(), false, 'the third reply is not offered');
    await take('Chen');
    await hears(listeners, ['Chen']);
    await p.Chen.click('#done');
    for (const page of Object.values(p)) assert.deepEqual(page.problems, []);
  });

  it('mute all: the speaker goes on, a request to unmute is one click, unmute all lifts the rest (open)', async () => {
    // Whatever is left of the ping-pong is cleared; the room goes back to open mode.
    await p.fac.check('#set-mode-open');
    // The facilitator clears the hands (an offer goes with them) in one action, so
    // nothing here races an offer that moves on while a learner reaches for it.
    const clear = p.fac.locator('#clear-hands');
    if (await clear.isVisible()) {
      await clear.click();
      await clear.click();
    }
    await eventually(async () => {
      for (const name of ['Aino', 'Bertil', 'Chen']) {
        assert.equal(await p[name].locator('#youre-up').isVisible(), false, `${name} has no offer`);
        assert.equal(await p[name].locator('#lower').isVisible(), false, `${name} has no hand`);
      }
    });
    // Accepting turned microphones on and "I'm done" put them back: all three were on.
    await hears(listeners, ['Aino', 'Bertil', 'Chen']);
    await p.Aino.click('#raise-new');
    await p.Aino.locator('#accept-floor').click();
    await p.fac.click('#tab-floor');
    await p.fac.click('#fac-mute-all');
    await hears(listeners, ['Aino']);
    // Bertil asks; the facilitator sees it on his line and allows him with one click.
    await p.Bertil.click('#ask-unmute');
    const allow = row(p.fac, 'Bertil').locator('[data-action="unmute"]');
    await eventually(async () => assert.match(await allow.textContent(), /Allow/));
    await allow.click();
    // His microphone was closed by the mute; he opens it himself.
    await eventually(async () => assert.equal(await p.Bertil.locator('#ask-unmute').isVisible(), false));
    await p.Bertil.click('#mic-toggle');
    await hears(listeners, ['Aino', 'Bertil']);
    // Unmute all: Chen may speak again once he opens his microphone.
    await p.fac.click('#fac-unmute-all');
    await eventually(async () => assert.doesNotMatch(await p.Chen.locator('#mic-toggle').textContent(), /muted/i));
    await p.Chen.click('#mic-toggle');
    await hears(listeners, ['Aino', 'Bertil', 'Chen']);
    // Mute all again, then the muted Chen takes the floor: heard for his turn only.
    await p.fac.click('#fac-mute-all');
    await hears(listeners, ['Aino']);
    await p.Aino.click('#done');
    await row(p.fac, 'Chen').locator('[data-action="grant"]').click();
    await p.Chen.locator('#accept-floor').click();
    await hears(listeners, ['Aino', 'Chen']);
    await p.Chen.click('#done');
    await hears(listeners, ['Aino']);
    await p.fac.click('#fac-unmute-all');
    for (const page of Object.values(p)) assert.deepEqual(page.problems, []);
  });

  it('away: the hand keeps its place, the floor goes to the next, and comes back (moderated)', async () => {
    await p.fac.check('#set-mode-moderated');
    await p.Aino.click('#raise-new');
    await p.Aino.locator('#accept-floor').click();
    await hears(listeners, ['Aino']);
    await p.Bertil.click('#raise-new');
    await p.Chen.click('#raise-new');
    await p.Bertil.click('#away-toggle');
    await eventually(async () => assert.match(await p.fac.locator('#queue').textContent(), /Away — skipped/));
    await p.fac.screenshot({ path: path.join(screenshots, 'queue-away.png') });
    // Aino is done: the offer passes Bertil by and goes to Chen, who is heard alone.
    await p.Aino.click('#done');
    await p.Chen.locator('#youre-up').waitFor();
    assert.equal(await p.Bertil.locator('#youre-up').isVisible(), false);
    await eventually(async () => assert.match(await p.Bertil.locator('#my-hand').textContent(), /#1|first|away/i));
    await p.Chen.locator('#accept-floor').click();
    await hears(listeners, ['Chen']);
    // Bertil is back; when Chen is done the floor is his, in the place he kept.
    await p.Bertil.click('#away-toggle');
    await p.Chen.click('#done');
    await p.Bertil.locator('#youre-up').waitFor();
    await p.Bertil.locator('#accept-floor').click();
    await hears(listeners, ['Bertil']);
    assert.equal(await offeredTo(p.fac), null);
    for (const page of Object.values(p)) assert.deepEqual(page.problems, []);
  });
});
