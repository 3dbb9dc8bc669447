// Breakout groups in real pages: a facilitator and four learners (two Chromium
// processes with different voices) split into two groups from the Groups tab; each page
// switches room without a reload and has audio in its group (the time is measured);
// nobody hears the other group, checked at the listeners; a learner asks for help and
// the facilitator, listening in, answers it; a notice reaches every group; and everyone
// is called back to the plenary with their identity and hand.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, inbound, heardBy, eventually, screenshots } from './harness.js';

/** Waits until `page` hears `want` and nobody in `never`; returns what it heard. */
async function hears(page, want, never, ms = 20_000) {
  let last = {};
  const until = Date.now() + ms;
  while (Date.now() < until) {
    last = await heardBy(page, 1500);
    if (want.every((w) => last[w]) && !never.some((n) => last[n])) return last;
  }
  throw new Error(`expected to hear ${want.join(', ')} and not ${never.join(', ')}; heard ${JSON.stringify(last)}`);
}

/** Resolves when the page's audio runs on a new peer connection that receives packets;
 *  the time that took from `since` (Date.now()), measured by polling every 25 ms. */
async function audioAgain(page, since, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const fresh = await page.evaluate(() => window.talkstickMedia?.pc && window.talkstickMedia.pc !== window.oldPc);
    if (fresh) {
      const s = await inbound(page);
      if (s.packets > 0) return Date.now() - since;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no audio in the new room');
}

/** Counts, in the page, what a person would notice going wrong: error toasts, and any
 *  word of a lost connection or a restart (a switch of rooms must show neither). */
function watch(page) {
  return page.evaluate(() => {
    window.__noticed = window.__noticed || { errors: [], reconnects: [] };
    const seen = new WeakSet();
    const check = () => {
      for (const el of document.querySelectorAll('.toasts > *, #conn-banner:not([hidden])')) {
        if (seen.has(el)) continue;
        seen.add(el);
        if (el.classList.contains('toast-error')) window.__noticed.errors.push(el.textContent);
        if (/Reconnect|Connection lost|restarted|Trying again/.test(el.textContent)) window.__noticed.reconnects.push(el.textContent);
      }
    };
    // Only where toasts and the connection banner appear: the rest of the page redraws
    // all the time (speaking, levels), and watching it would load the page itself.
    const observer = new MutationObserver(check);
    observer.observe(document.getElementById('toasts'), { childList: true });
    observer.observe(document.getElementById('conn-banner'), { attributes: true, attributeFilter: ['hidden'], childList: true });
    check();
    // Every status of the plenary's and the groups' connections, with close codes: what
    // explains a reconnect if one is seen.
    if (!window.__statuses) {
      window.__statuses = [];
      const rooms = window.talkstick.connection;
      const log = (room) => (st) => {
        window.__statuses.push({ at: Math.round(performance.now()), room, ...st });
        if (window.__statuses.length > 200) window.__statuses.shift();
      };
      rooms.plenary.onStatus(log('plenary'));
      const make = rooms.make;
      rooms.make = (opts) => { const c = make(opts); c.onStatus(log(opts.group)); return c; };
    }
  });
}

describe('breakout groups in the browser', () => {
  let server;
  let scratch;
  let one;
  let two;
  let fac;
  const learners = []; // {name, page, id}

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-groups-'));
    const low = path.join(scratch, 'low.wav');
    const high = path.join(scratch, 'high.wav');
    voiceWav(low, { f0: 220, gain: 0.5 });
    voiceWav(high, { f0: 440, gain: 0.25 });
    server = await startServer({ learners: 4 });
    one = await launchBrowser({ fakeAudio: low });
    two = await launchBrowser({ fakeAudio: high });
    const links = server.links.filter((l) => l.role === 'learner');
    for (const [i, l] of links.entries()) {
      const page = await newPage(i % 2 ? two.browser : one.browser, l.url, { rawMic: true });
      await page.locator('#start-mic-on').check();
      await join(page);
      learners.push({ name: l.name, page, id: await page.evaluate(() => window.talkstick.store.me.id) });
    }
    fac = await newPage(one.browser, server.links.find((l) => l.role === 'facilitator').url);
    await join(fac, { listenOnly: true });
    for (const p of [fac, ...learners.map((l) => l.page)]) await watch(p);
    // A plenary hand to come back to (not offered the floor meanwhile: no auto-offer).
    await fac.evaluate(() => window.talkstick.connection.send('update_settings', { settings: { auto_offer: false } }));
    await eventually(async () => assert.equal(await fac.evaluate(() => window.talkstick.store.settings.auto_offer), false));
    await learners[3].page.keyboard.press('h');
    await fac.locator('#queue > li').first().waitFor();
  });

  after(async () => {
    if (process.env.SHOW_STORE) {
      const m = await (await fetch(`${server.base}/metrics`)).text();
      console.log(m.split('\n').filter((l) => /talkstick_store_(lag|commit)_seconds_(bucket|sum|count)/.test(l)).join('\n'));
    }
    await one?.close();
    await two?.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('opens two groups by hand; every page switches and has audio in its group', async () => {
    // Group 1: learners 0 and 1 (one voice each); group 2: learners 2 and 3.
    await fac.click('#tab-breakouts');
    await fac.check('#bo-assign-manual');
    for (const [i, l] of learners.entries()) {
      await fac.locator(`select[aria-label="Group for ${l.name}"]`).selectOption(String(i < 2 ? 1 : 2));
    }
    await fac.fill('#bo-names', 'Pricing\nOnboarding');
    await fac.locator('#bo-names').dispatchEvent('input');
    mkdirSync(screenshots, { recursive: true });
    await fac.screenshot({ path: path.join(screenshots, 'breakouts-plan.png') });
    for (const l of learners) await l.page.evaluate(() => { window.oldPc = window.talkstickMedia?.pc; });
    const clicked = await fac.evaluate(() => { const t = Date.now(); document.querySelector('#bo-open').click(); return t; });
    const times = await Promise.all(learners.map((l) => audioAgain(l.page, clicked)));
    console.log(`audio in the group after opening (ms): ${times.join(', ')}`);
    for (const l of learners) {
      const steps = await l.page.evaluate(() => {
        const r = window.talkstick.connection.times;
        const m = window.talkstickMedia.times;
        const at = (t) => (t == null ? null : Math.round(t - r.asked));
        const c = window.talkstick.connection.active.times;
        return { heard: r.askedWall, connect: at(c.connect), open: at(c.open), welcome: at(c.welcome), welcomed: at(r.welcomed), media: at(m.start), offered: at(m.offered), answered: at(m.answered), connected: at(m.connected) };
      });
      steps.heard -= clicked;
      console.log(`${l.name}: ${JSON.stringify(steps)} ms after the page heard of its group (heard: after the click)`);
    }
    for (const [i, l] of learners.entries()) {
      await eventually(async () => assert.match(await l.page.locator('#group-where').textContent(), new RegExp(`You are in ${i < 2 ? 'Pricing' : 'Onboarding'}`)));
      // The group's room: two people, nobody from the other group.
      await eventually(async () => assert.equal(await l.page.locator('#people > li').count(), 2));
    }
    // The goal is 1 s: docs/benchmarks.md §5 has the release build's times (0.8–1.3 s on
    // this VM). Here a debug server and five pages share two cores (1–6 s seen, with the
    // VM's load), so what is checked is that nothing waited for a second try: one group
    // socket, one audio offer, no audio restart.
    for (const l of learners) {
      const tries = await l.page.evaluate(() => ({
        sockets: window.talkstick.connection.active.sockets,
        offers: window.talkstickMedia.offers,
      }));
      assert.deepEqual(tries, { sockets: 1, offers: 1 }, `${l.name} switched at the first try`);
    }
  });

  it('nobody hears the other group, at the listeners', async () => {
    const [a, b, c, d] = learners.map((l) => l.name);
    await hears(learners[0].page, [b], [c, d]);
    await hears(learners[1].page, [a], [c, d]);
    await hears(learners[2].page, [d], [a, b]);
    await hears(learners[3].page, [c], [a, b]);
    await learners[0].page.screenshot({ path: path.join(screenshots, 'breakouts-learner-in-group.png') });
  });

  it('a page reloaded in a group comes back into its group, as the same person', async () => {
    const page = learners[2].page;
    const before = await page.evaluate(() => window.talkstick.store.me.id);
    await page.reload();
    await eventually(async () => assert.equal(await page.evaluate(() => window.talkstick?.connection?.inGroup ?? null), 'demo.1.2'), 10_000);
    await watch(page);
    assert.equal(await page.evaluate(() => window.talkstick.store.me.id), before, 'the same participant in the group');
    await eventually(async () => assert.equal(await page.locator('#people > li').count(), 2));
    await hears(learners[3].page, [learners[2].name], []);
  });

  it('a learner asks for help from the group; the facilitator sees who and where', async () => {
    const asker = learners[0];
    await asker.page.click('#group-help');
    await asker.page.locator('#group-help-asked').waitFor();
    await asker.page.screenshot({ path: path.join(screenshots, 'breakouts-learner-asked-help.png') });
    await fac.locator('.toast', { hasText: `${asker.name} asks for help in Pricing.` }).first().waitFor();
    await eventually(async () => assert.match(await fac.locator('#bo-help-1').textContent(), new RegExp(`${asker.name} asks for help`)));
    assert.match(await fac.locator('#tab-breakouts-help').textContent(), /^1/);
    assert.equal(await fac.locator('#bo-help-2').count(), 0, 'the other group asks nothing');
    // Only the asker's banner changed; the group mate can still ask.
    assert.equal(await learners[1].page.locator('#group-help').count(), 1);
    // The plenary's people say where each person is, rather than "no audio".
    await eventually(async () => assert.match(await fac.locator(`#people > li[data-name="${asker.name}"]`).textContent(), /In Pricing/));
    await fac.locator('#bo-help-1').scrollIntoViewIfNeeded();
    await fac.screenshot({ path: path.join(screenshots, 'breakouts-help-asked.png') });
  });

  it('the facilitator listens in unheard (which answers the request), and a notice reaches every group', async () => {
    await fac.click('#bo-listen-1');
    // Going there answered the request: the asker is told, and may ask again.
    await learners[0].page.locator('.toast', { hasText: 'Facilitator has seen your request for help.' }).first().waitFor();
    await learners[0].page.locator('#group-help').waitFor();
    await eventually(async () => assert.equal(await fac.locator('#bo-help-1').count(), 0));
    assert.equal(await fac.locator('#tab-breakouts-help').count(), 0);
    await eventually(async () => assert.match(await fac.locator('#group-where').textContent(), /Listening in on Pricing/));
    const [a, b, c, d] = learners.map((l) => l.name);
    await hears(fac, [a, b], [c, d]);
    // Present in the group, shown there as listening in.
    await learners[0].page.locator('#people > li[data-name="Facilitator"]', { hasText: 'Listening in' }).waitFor();
    await fac.fill('#bo-notice', 'Two minutes to wrap up');
    await fac.press('#bo-notice', 'Enter');
    for (const l of learners) {
      await l.page.locator('.toast', { hasText: 'Two minutes to wrap up' }).first().waitFor();
    }
    await fac.screenshot({ path: path.join(screenshots, 'breakouts-facilitator-listening.png') });
  });

  it('calls everyone back after a countdown every group sees, or at once', async () => {
    // The default call-back gives the groups a minute, and every page counts it down.
    assert.equal(await fac.locator('#bo-call-back-in').inputValue(), '60');
    await fac.click('#bo-call-back');
    await fac.click('#bo-call-back'); // asked twice
    for (const l of learners) {
      await l.page.locator('.toast', { hasText: 'Back to the plenary in 1 minute: please finish up.' }).first().waitFor();
      await eventually(async () => assert.match(await l.page.locator('#group-time-left').textContent(), /^Back to the plenary in (1:00|0:[0-5]\d)$/));
      assert.notEqual(await l.page.evaluate(() => window.talkstick.connection.inGroup), null, 'the groups run on meanwhile');
    }
    await learners[0].page.screenshot({ path: path.join(screenshots, 'breakouts-countdown.png') });
    await eventually(async () => assert.match(await fac.locator('#bo-closing').textContent(), /Everyone is back in (0:[0-5]\d|1:00)/));
    assert.equal(await fac.locator('#bo-call-back-in').count(), 0, 'no second countdown to choose');
    assert.equal((await fac.locator('#bo-call-back').textContent()).trim(), 'Call everyone back now');
    await fac.locator('#bo-call-back').scrollIntoViewIfNeeded();
    await fac.screenshot({ path: path.join(screenshots, 'breakouts-facilitator-countdown.png') });
  });

  it('calls everyone back to the plenary with identity, colour and hand', async () => {
    const before = await Promise.all(learners.map((l) => l.page.evaluate(() => window.talkstick.connection.plenaryPeople.get(window.talkstick.connection.plenaryMe).colour)));
    for (const l of learners) await l.page.evaluate(() => { window.oldPc = window.talkstickMedia?.pc; });
    await fac.click('#bo-call-back');
    await fac.click('#bo-call-back'); // asked twice: now, before the countdown ends
    for (const [i, l] of learners.entries()) {
      await eventually(async () => assert.equal(await l.page.evaluate(() => window.talkstick.connection.inGroup), null));
      await eventually(async () => assert.equal(await l.page.locator('#people > li').count(), 5));
      assert.equal(await l.page.evaluate(() => window.talkstick.store.me.id), l.id, 'the plenary identity');
      const colour = await l.page.evaluate(() => window.talkstick.store.self.colour);
      assert.equal(colour, before[i], 'the plenary colour');
      assert.equal(await l.page.locator('#group-banner').isHidden(), true);
    }
    await eventually(async () => assert.equal(await fac.evaluate(() => window.talkstick.connection.inGroup), null));
    // The plenary hand waited; the plenary's audio is back (open mode: everyone heard).
    await eventually(async () => assert.equal(await learners[0].page.locator('#queue > li').count(), 1));
    await audioAgain(learners[0].page, Date.now());
    const [, b, c] = learners.map((l) => l.name);
    await hears(learners[0].page, [b, c], []);
    // Across the whole session, moving in and out of groups: no error, no reconnect.
    for (const p of [fac, ...learners.map((l) => l.page)]) {
      assert.deepEqual(p.problems, []);
      const noticed = await p.evaluate(() => window.__noticed);
      if (noticed.reconnects.length) console.log('connection statuses:', JSON.stringify(await p.evaluate(() => window.__statuses)));
      assert.deepEqual(noticed, { errors: [], reconnects: [] });
    }
  });

  it('lets people choose their group, change it and come back by themselves', async () => {
    const [a, b] = learners;
    await fac.check('#bo-assign-choose');
    assert.match(await fac.locator('#bo-summary').textContent(), /2 groups for 4 people to choose from/);
    await fac.click('#bo-open');
    await a.page.locator('#group-choose').waitFor();
    assert.match(await a.page.locator('#group-where').textContent(), /choose one/);
    assert.equal(await a.page.evaluate(() => window.talkstick.connection.inGroup), null, 'nobody is placed');
    const chose = await a.page.evaluate(() => performance.now());
    await a.page.selectOption('#group-choose', '2');
    await eventually(async () => assert.match(await a.page.locator('#group-where').textContent(), /You are in Onboarding/));
    // How long a choice takes (printed; docs/benchmarks.md §5 has release-build figures).
    const took = await a.page.evaluate(async (t0) => {
      // The group's audio, not the plenary's that was there before the choice.
      const fresh = () => window.talkstickMedia?.times?.start > t0 && window.talkstickMedia.times.connected;
      for (let i = 0; i < 200 && !fresh(); i += 1) await new Promise((r) => setTimeout(r, 25));
      const r = window.talkstick.connection.times;
      return { heard: Math.round(r.asked - t0), welcomed: Math.round(r.welcomed - t0), connected: Math.round((window.talkstickMedia.times.connected ?? NaN) - t0) };
    }, chose);
    console.log(`choosing a group (ms after the choice): ${JSON.stringify(took)}`);
    assert.notEqual(await a.page.evaluate(() => window.talkstick.connection.inGroup), null);
    // Everyone sees how many chose each group; the facilitator sees who.
    await eventually(async () => assert.match(await b.page.locator('#group-choose option[value="2"]').textContent(), /Onboarding \(1\)/));
    await eventually(async () => assert.equal(await fac.locator('.bo-group[data-group="2"] .bo-person').count(), 1));
    await a.page.screenshot({ path: path.join(screenshots, 'breakouts-chosen.png') });
    // Changing to the other group, then back to the plenary.
    await a.page.selectOption('#group-choose', '1');
    await eventually(async () => assert.match(await a.page.locator('#group-where').textContent(), /You are in Pricing/));
    await a.page.selectOption('#group-choose', '0');
    await eventually(async () => assert.equal(await a.page.evaluate(() => window.talkstick.connection.inGroup), null));
    await eventually(async () => assert.match(await a.page.locator('#group-where').textContent(), /choose one/));
    await fac.selectOption('#bo-call-back-in', '0');
    await fac.click('#bo-call-back');
    await fac.click('#bo-call-back'); // asked twice
    for (const l of learners) await eventually(async () => assert.equal(await l.page.locator('#group-banner').isHidden(), true));
    for (const p of [fac, ...learners.map((l) => l.page)]) {
      assert.deepEqual(p.problems, []);
      assert.deepEqual(await p.evaluate(() => window.__noticed), { errors: [], reconnects: [] });
    }
  });
});
