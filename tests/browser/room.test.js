// The web client in a real Chromium against the real server: one facilitator and
// three learners (contexts in one browser) go through a session. The steps share one
// room and run in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, screenshots, contrastOf } from './harness.js';

/** Polls `check` (which throws or returns false while not yet true) for up to `ms`. */
async function eventually(check, ms = 6000, what = 'condition') {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      if ((await check()) !== false) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (last) throw last;
  throw new Error(`timed out waiting for ${what}`);
}

// Screenshots for the docs leave out passing toasts.
const QUIET = '.toasts { display: none !important; }';

const queue = (page) => page.locator('#queue');
const queueOf = (page) => page.$$eval('#queue > li', (els) => els.map((li) => ({
  name: li.querySelector('.hand-name').textContent.replace(' (you)', ''),
  kind: li.dataset.kind,
  position: Number(li.dataset.position),
})));
const holderOf = (page) => page.textContent('#floor-holder');
const tile = (page, name) => page.locator(`#people > li[data-name="${name}"]`);

describe('the web client with a facilitator and three learners', () => {
  let server;
  let chrome;
  let fac;
  let aino;
  let bertil;
  let chen;
  let all;

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    server = await startServer();
    chrome = await launchBrowser();
  });

  after(async () => {
    for (const p of all || []) {
      if (p.problems.length) console.error(`problems on a page: ${p.problems.join('\n')}`);
    }
    await chrome?.close();
    await server?.stop();
  });

  it('shows who you are before joining, with a working microphone check', async () => {
    const link = server.links.find((l) => l.role === 'facilitator');
    fac = await newPage(chrome.browser, link.url);
    await fac.locator('#prejoin-name').waitFor();
    assert.equal(await fac.textContent('#prejoin-name'), 'Welcome, Facilitator');
    await fac.locator('#mic-select option').first().waitFor({ state: 'attached' });
    assert.match(await fac.textContent('#mic-select'), /Fake|Default|Microphone/i);
    // The fake device plays a tone: the meter moves.
    await eventually(async () => Number(await fac.getAttribute('#mic-meter', 'aria-valuenow')) > 5, 6000, 'the level meter to move');
    await fac.click('#speaker-test');
    await fac.screenshot({ path: path.join(screenshots, 'prejoin.png') });
    await join(fac);
  });

  it('lets three learners in; everyone sees the same people, colours and initials', async () => {
    const url = (name) => server.links.find((l) => l.name === name).url;
    aino = await newPage(chrome.browser, url('Aino'));
    await join(aino);
    bertil = await newPage(chrome.browser, url('Bertil'));
    await join(bertil);
    chen = await newPage(chrome.browser, url('Chen'));
    await join(chen, { listenOnly: true });
    all = [fac, aino, bertil, chen];
    for (const p of all) {
      await eventually(async () => (await p.locator('#people > li').count()) === 4, 6000, 'four tiles');
    }
    const identity = (p) => p.$$eval('#people > li', (els) => els.map((li) => [
      li.dataset.name, li.style.getPropertyValue('--c'), li.querySelector('.avatar').textContent,
      li.querySelector('.tile-role').textContent]));
    const expected = await identity(fac);
    assert.deepEqual(expected.map((x) => x[0]), ['Facilitator', 'Aino', 'Bertil', 'Chen']);
    assert.equal(new Set(expected.map((x) => x[1])).size, 4, 'four distinct colours');
    for (const p of all) assert.deepEqual(await identity(p), expected);
    assert.match(await chen.textContent('#mic-toggle'), /Listen-only/);
    assert.equal(await fac.isVisible('#facilitator-panel'), true);
    assert.equal(await aino.isVisible('#facilitator-panel'), false);
  });

  it('shows hands of both kinds in the same order on every page, notes only to their owner and the facilitator', async () => {
    // Without auto-offer the first hand waits in the queue like the others.
    await fac.click('#tab-queue');
    await fac.uncheck('#set-auto_offer');
    await eventually(async () => (await fac.isChecked('#set-auto_offer')) === false);
    await fac.click('#tab-floor');
    await aino.fill('#note', 'Ask about the second derivation');
    await aino.click('#raise-new');
    await aino.locator('#my-hand').waitFor();
    await bertil.keyboard.press('r'); // keyboard shortcut: reply
    await bertil.locator('#my-hand').waitFor();
    await chen.keyboard.press('h'); // keyboard shortcut: new point
    await chen.locator('#my-hand').waitFor();
    const expected = [
      { name: 'Bertil', kind: 'reply', position: 1 },
      { name: 'Aino', kind: 'new_point', position: 2 },
      { name: 'Chen', kind: 'new_point', position: 3 },
    ];
    for (const p of all) await eventually(async () => assert.deepEqual(await queueOf(p), expected));
    assert.match(await aino.textContent('#queue'), /Ask about the second derivation/);
    assert.match(await fac.textContent('#queue'), /Ask about the second derivation/);
    assert.doesNotMatch(await bertil.textContent('#queue'), /second derivation/);
    assert.doesNotMatch(await chen.textContent('#queue'), /second derivation/);
    assert.match(await chen.textContent('#my-hand'), /#3 of 3/);
    // The hand kind has an icon and a word, not only a colour.
    assert.match(await bertil.textContent('#queue > li:first-child .kind'), /Reply/);
    assert.equal(await bertil.getAttribute('#queue > li:first-child .kind svg', 'data-icon'), 'reply');
  });

  it("offers the floor on grant; the learner sees \"you're up\", accepts, and every page names them", async () => {
    await fac.click('#queue > li[data-position="2"] button[data-action="grant"]');
    await aino.locator('#youre-up').waitFor();
    await eventually(async () => assert.match(await aino.textContent('#offer-remaining'), /^0:\d\d left to accept\.$/));
    assert.match(await bertil.textContent('#floor-label'), /offered to/i);
    // Positions stay true: Aino is out of the numbering while offered, Chen counts on
    // without her, and Aino's own line says the floor is hers to take.
    await eventually(async () => assert.match(await chen.textContent('#my-hand'), /#2 of 2/));
    await eventually(async () => assert.match(await aino.textContent('#my-hand'), /offered to you/));
    assert.doesNotMatch(await aino.textContent('#my-hand'), /#\d+ of/);
    assert.equal(await chen.getAttribute('#queue > li.offered .pos svg', 'data-icon'), 'offered');
    await aino.click('#accept-floor');
    for (const p of all) await eventually(async () => assert.match(await holderOf(p), /^Aino/));
    // Aino's private note stays with her turn: beside the banner for her and the
    // facilitator, for nobody else.
    await eventually(async () => assert.match(await aino.textContent('#turn-note'), /My point: Ask about the second derivation/));
    await eventually(async () => assert.match(await fac.textContent('#turn-note'), /Their point: Ask about the second derivation/));
    assert.equal(await bertil.locator('#turn-note').count(), 0);
    assert.equal(await aino.isVisible('#youre-up'), false);
    assert.equal(await aino.textContent('#floor-holder'), 'Aino (you)');
    await eventually(async () => assert.match(await bertil.textContent('#live-polite'), /Aino has the floor/));
    // Accepting switches the speaker's microphone on, and everyone sees it.
    await eventually(async () => assert.match(await tile(bertil, 'Aino').textContent(), /Mic on/));
    // Aino's hand came down; the others moved up.
    for (const p of all) await eventually(async () => assert.deepEqual((await queueOf(p)).map((h) => h.name), ['Bertil', 'Chen']));
  });

  it('shows reactions on the sender\'s tile for everyone and tallies them beside the speaker', async () => {
    await bertil.click('#reaction-controls button[data-reaction="agree"]');
    await chen.keyboard.press('2'); // keyboard shortcut: disagree
    for (const p of [fac, aino, chen]) {
      await eventually(async () => assert.equal(await tile(p, 'Bertil').locator('.tile-reaction').getAttribute('data-reaction'), 'agree'));
    }
    await eventually(async () => assert.equal(await tile(aino, 'Chen').locator('.tile-reaction').getAttribute('data-reaction'), 'disagree'));
    for (const p of all) {
      await eventually(async () => {
        assert.match(await p.textContent('#floor-tally li[data-reaction="agree"]'), /1/);
        assert.match(await p.textContent('#floor-tally li[data-reaction="disagree"]'), /1/);
      });
    }
    await eventually(async () => assert.match(await fac.textContent('#fac-tally'), /Agree: 1/));
    // A tally counts people: Bertil's button shows the agreement counts, and pressing it
    // again takes it back on every page; once more counts it again, once.
    const agree = bertil.locator('#reaction-controls button[data-reaction="agree"]');
    await eventually(async () => assert.equal(await agree.getAttribute('aria-pressed'), 'true'));
    await agree.click();
    await eventually(async () => assert.equal(await agree.getAttribute('aria-pressed'), 'false'));
    for (const p of all) {
      await eventually(async () => assert.doesNotMatch(await p.textContent('#floor-tally li[data-reaction="agree"]'), /1/));
    }
    await agree.click();
    for (const p of all) {
      await eventually(async () => assert.match(await p.textContent('#floor-tally li[data-reaction="agree"]'), /1/));
    }
  });

  it('draws every icon itself: no emoji font needed, one icon per meaning', async () => {
    // Mid-turn with reactions showing: the most icons a page draws at once (after the
    // newest reaction's pop-in animation).
    await new Promise((r) => setTimeout(r, 800));
    for (const p of [fac, bertil]) {
      const found = await p.evaluate(() => {
        // Everything the page wrote itself (people's names and chat are theirs).
        const walker = document.createTreeWalker(document.getElementById('room'), NodeFilter.SHOW_TEXT);
        const pictographs = [];
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          if (n.parentElement.closest('.chat-log, .tile-name, .hand-name, .floor-name, .note, .turn-note')) continue;
          if (/\p{Extended_Pictographic}/u.test(n.textContent)) pictographs.push(n.textContent.trim());
        }
        const icons = [...document.querySelectorAll('#room svg.icon')].filter((s) => s.getClientRects().length);
        const unsized = icons.filter((s) => { const r = s.getBoundingClientRect(); return r.width < 8 || r.height < 8; });
        // Which words each drawn icon stands beside: the mic-off icon never means "can't hear".
        const cantHear = [...document.querySelectorAll('[data-reaction="cant_hear"] svg.icon')].map((s) => s.dataset.icon);
        const micOff = [...document.querySelectorAll('.tile .mic.off svg.icon')].map((s) => s.dataset.icon);
        return { pictographs, drawn: icons.length, unsized: unsized.map((s) => s.dataset.icon), cantHear, micOff };
      });
      assert.deepEqual(found.pictographs, [], 'no emoji characters in the page\'s own text');
      assert.ok(found.drawn >= 15, `icons drawn: ${found.drawn}`);
      assert.deepEqual(found.unsized, []);
      assert.ok(found.cantHear.length >= 1 && found.cantHear.every((i) => i === 'ear-off'), JSON.stringify(found.cantHear));
      assert.ok(found.micOff.every((i) => i === 'mic-off'), JSON.stringify(found.micOff));
    }
  });

  it('shows a time limit countdown and moderated mode on every page', async () => {
    await fac.click('#tab-time');
    await fac.check('#set-time_limit_ms-on');
    await fac.fill('#set-time_limit_ms', '90');
    await fac.press('#set-time_limit_ms', 'Enter');
    await fac.click('#tab-floor');
    await fac.check('#set-mode-moderated');
    for (const p of all) {
      await eventually(async () => assert.match(await p.textContent('#floor-countdown'), /^[01]:\d\d left$/));
      await eventually(async () => assert.match(await p.textContent('#mode-badge'), /Moderated/));
    }
    // Aino holds the floor and is heard; Bertil, with the microphone on and no floor, is
    // told he is not heard, and then the mode goes back to open.
    assert.doesNotMatch(await aino.textContent('#mic-toggle'), /not heard/);
    if (!/Mic on/.test(await bertil.textContent('#mic-toggle'))) await bertil.keyboard.press('m');
    await eventually(async () => assert.match(await bertil.textContent('#mic-toggle'), /Mic on — not heard in moderated mode/));
    await fac.check('#set-mode-open');
    await eventually(async () => assert.doesNotMatch(await bertil.textContent('#mic-toggle'), /not heard/));
    await bertil.keyboard.press('m');
    await eventually(async () => assert.match(await bertil.textContent('#mic-toggle'), /Mic off/));
    await fac.check('#set-mode-moderated');
    await eventually(async () => assert.match(await aino.textContent('#mode-badge'), /Moderated/));
    await aino.screenshot({ path: path.join(screenshots, 'learner.png'), style: QUIET });
    await bertil.setViewportSize({ width: 390, height: 844 });
    await bertil.locator('#floor-countdown').waitFor();
    await bertil.screenshot({ path: path.join(screenshots, 'phone.png'), style: QUIET });
    await bertil.setViewportSize({ width: 1280, height: 720 });
  });

  it('fits a facilitator\'s tools in 1280×720 and says each thing once', async () => {
    // Mid-turn, moderated, with a time limit and two hands: the busiest the page gets.
    assert.deepEqual(fac.viewportSize(), { width: 1280, height: 720 });
    for (const tab of ['floor', 'balance', 'time', 'queue']) {
      await fac.click(`#tab-${tab}`);
      const fit = await fac.evaluate((t) => {
        const panel = document.getElementById(`fac-tab-${t}`);
        const side = document.getElementById('facilitator-panel');
        return { inner: panel.scrollHeight - panel.clientHeight, side: side.scrollHeight - side.clientHeight, bottom: side.getBoundingClientRect().bottom };
      }, tab);
      assert.ok(fit.inner <= 1 && fit.side <= 1, `the ${tab} tab scrolls: ${JSON.stringify(fit)}`);
      assert.ok(fit.bottom <= 720, `the panel ends on the screen: ${fit.bottom}`);
    }
    await fac.click('#tab-floor');
    // One "I'm done" for the holder; nobody sees "floor open" while someone has it.
    const dones = await aino.locator('button:visible', { hasText: "I'm done" }).count();
    assert.equal(dones, 1, 'one "I\'m done" button');
    for (const p of all) assert.equal(await p.locator('#floor-open').count(), 0);
    // One clock format: m:ss everywhere.
    for (const p of all) {
      assert.match(await p.textContent('#floor-elapsed'), /^Speaking for \d+:\d\d$/);
      assert.match(await p.textContent('#floor-countdown'), /^\d+:\d\d left$/);
    }
  });

  it('keeps a learner\'s queue place when the page is reloaded', async () => {
    const before = await chen.evaluate(() => window.talkstick.store.me.id);
    await chen.reload();
    // No mic check again: the stored resume token takes Chen straight back in.
    await chen.locator('#my-hand').waitFor();
    assert.equal(await chen.evaluate(() => window.talkstick.store.me.id), before);
    assert.match(await chen.textContent('#my-hand'), /#2 of 2/);
    for (const p of all) {
      await eventually(async () => assert.deepEqual((await queueOf(p)).map((h) => h.name), ['Bertil', 'Chen']));
      await eventually(async () => assert.equal(await p.locator('#people > li').count(), 4));
    }
    assert.match(await chen.textContent('#mode-badge'), /Moderated/);
    assert.match(await chen.textContent('#floor-holder'), /^Aino/);
  });

  it('lets the facilitator reorder hands with buttons and drag-and-drop', async () => {
    await fac.click('#queue > li[data-position="2"] button[data-action="up"]');
    for (const p of all) await eventually(async () => assert.deepEqual((await queueOf(p)).map((h) => h.name), ['Chen', 'Bertil']));
    await fac.dragAndDrop('#queue > li[data-position="2"]', '#queue > li[data-position="1"]');
    for (const p of all) await eventually(async () => assert.deepEqual((await queueOf(p)).map((h) => h.name), ['Bertil', 'Chen']));
  });

  it('keeps the queue place through a dropped connection', async () => {
    await bertil.evaluate(() => window.talkstick.connection.ws.close());
    await eventually(async () => assert.match(await bertil.textContent('#toasts'), /Reconnected — you kept your place/));
    assert.deepEqual((await queueOf(bertil)).map((h) => h.name), ['Bertil', 'Chen']);
    assert.match(await bertil.textContent('#my-hand'), /#1 of 2/);
  });

  it('fetches a fresh snapshot after missing events, keeping its identity', async () => {
    const id = await bertil.evaluate(() => window.talkstick.store.me.id);
    const oldSocket = await bertil.evaluate(() => {
      const c = window.talkstick.connection;
      window.oldSocket = c.ws;
      c.receive(JSON.stringify({ seq: c.seq + 5, type: 'pong' })); // a gap in seq
      return true;
    });
    assert.ok(oldSocket);
    await eventually(async () => assert.equal(await bertil.evaluate(() => window.talkstick.connection.joined && window.talkstick.connection.ws !== window.oldSocket), true));
    assert.equal(await bertil.evaluate(() => window.talkstick.store.me.id), id);
    assert.match(await bertil.textContent('#my-hand'), /#1 of 2/);
    await bertil.waitForTimeout(300); // no reconnect loop: the socket stays
    assert.equal(await bertil.evaluate(() => window.talkstick.connection.joined), true);
  });

  it('shows the talk-time balance and downloads the report', async () => {
    await fac.click('#tab-balance');
    await eventually(async () => assert.match(await fac.textContent('#balance-chart li[data-pid]:first-child'), /Aino/));
    await fac.click('#tab-floor');
    await fac.screenshot({ path: path.join(screenshots, 'facilitator.png'), style: QUIET });
    await fac.click('#tab-balance');
    await fac.screenshot({ path: path.join(screenshots, 'facilitator-balance.png'), style: QUIET });
    const [download] = await Promise.all([fac.waitForEvent('download'), fac.click('#report-csv')]);
    await fac.click('#tab-time');
    await fac.screenshot({ path: path.join(screenshots, 'facilitator-settings.png'), style: QUIET });
    await fac.click('#tab-floor');
    const csv = readFileSync(await download.path(), 'utf8');
    const [header, ...rows] = csv.trim().split(/\r\n/);
    assert.match(header, /^participant,name,colour,present,talk_seconds,turns,/);
    const ainoRow = rows.find((r) => r.split(',')[1] === 'Aino').split(',');
    assert.ok(Number(ainoRow[4]) > 0, 'Aino has talk time');
    assert.equal(ainoRow[5], '1');
  });

  it('ends the turn with "I\'m done" by key, and shows the floor open', async () => {
    await aino.keyboard.press('d');
    for (const p of all) await eventually(async () => assert.equal(await holderOf(p), 'Floor open'));
  });

  it('lets the facilitator mute a learner, and tells them', async () => {
    await tile(fac, 'Bertil').locator('button[data-action="mute"]').click();
    await eventually(async () => assert.match(await bertil.textContent('#mic-toggle'), /Muted by facilitator/));
    await eventually(async () => assert.match(await aino.textContent('#people > li[data-name="Bertil"]'), /Muted by facilitator/));
    await bertil.keyboard.press('m');
    await eventually(async () => assert.match(await bertil.textContent('#toasts'), /facilitator muted you/i));
    // Bertil asks to be unmuted; the facilitator sees it and allows it in one click.
    await bertil.click('#ask-unmute');
    await eventually(async () => assert.match(await bertil.textContent('#ask-unmute'), /Asked to unmute/));
    const allow = tile(fac, 'Bertil').locator('button[data-action="unmute"]');
    await eventually(async () => assert.match(await tile(fac, 'Bertil').textContent(), /Asks to be unmuted/));
    await eventually(async () => assert.match(await allow.textContent(), /Allow/));
    await allow.click();
    await eventually(async () => assert.doesNotMatch(await bertil.textContent('#mic-toggle'), /Muted by facilitator/));
    assert.equal(await bertil.isVisible('#ask-unmute'), false);
    // Mute all, then unmute all.
    await fac.click('#fac-mute-all');
    for (const name of ['Aino', 'Bertil', 'Chen']) {
      await eventually(async () => assert.match(await tile(fac, name).textContent(), /Muted by facilitator/));
    }
    await fac.click('#fac-unmute-all');
    for (const name of ['Aino', 'Bertil', 'Chen']) {
      await eventually(async () => assert.doesNotMatch(await tile(fac, name).textContent(), /Muted by facilitator/));
    }
    await eventually(async () => assert.doesNotMatch(await bertil.textContent('#mic-toggle'), /Muted by facilitator/));
  });

  it('has push-to-talk (hold Space) and an away status, by keyboard', async () => {
    await aino.keyboard.press('p');
    await eventually(async () => assert.match(await tile(fac, 'Aino').textContent(), /Push-to-talk/));
    // Turning push-to-talk on also turns the open mic off: a second message, so Aino's
    // own hint can say "Talking…" for a moment before it settles.
    await eventually(async () => assert.match(await aino.textContent('#ptt-hint'), /Hold Space to talk/));
    await aino.keyboard.down(' ');
    await eventually(async () => assert.match(await tile(fac, 'Aino').textContent(), /Mic on/));
    await aino.keyboard.up(' ');
    await eventually(async () => assert.doesNotMatch(await tile(fac, 'Aino').textContent(), /Mic on/));
    await aino.keyboard.press('p');
    await eventually(async () => assert.doesNotMatch(await tile(fac, 'Aino').textContent(), /Push-to-talk/));
    await chen.keyboard.press('w');
    for (const p of [fac, aino]) await eventually(async () => assert.match(await tile(p, 'Chen').textContent(), /Away/));
    await chen.keyboard.press('w');
    await eventually(async () => assert.doesNotMatch(await tile(fac, 'Chen').textContent(), /Away/));
  });

  it('opens a free discussion from the facilitator\'s keyboard', async () => {
    await fac.keyboard.press('o');
    for (const p of all) await eventually(async () => assert.equal(await holderOf(p), 'Everyone may speak'));
    await fac.keyboard.press('x');
    for (const p of all) await eventually(async () => assert.equal(await holderOf(p), 'Floor open'));
  });

  it('shows server errors as a brief toast (too many reactions)', async () => {
    for (let i = 0; i < 12; i += 1) await aino.keyboard.press('4');
    await eventually(async () => assert.match(await aino.textContent('#toasts'), /too many reactions/i));
    // Told once, not as a stack of the same toast.
    const told = await aino.$$eval('#toasts > .toast', (ts) => ts.filter((t) => /too many reactions/i.test(t.textContent)).length);
    assert.equal(told, 1, 'one toast for a burst of refused reactions');
  });

  it('lists every shortcut in the help panel', async () => {
    await aino.keyboard.press('?');
    await aino.locator('#help[open]').waitFor();
    const text = await aino.textContent('#help-body');
    for (const s of ['Raise your hand: new point', 'Lower your hand', "Accept when you're up", 'Microphone on or off', 'Away']) {
      assert.ok(text.includes(s), `help mentions ${s}`);
    }
    assert.doesNotMatch(text, /Next in queue/, 'learners do not see facilitator shortcuts');
    await aino.keyboard.press('Escape');
    await eventually(async () => (await aino.locator('#help[open]').count()) === 0);
    await fac.keyboard.press('?');
    assert.match(await fac.textContent('#help-body'), /Next in queue/);
    await fac.keyboard.press('Escape');
    // Single-key shortcuts can be turned off (WCAG 2.1.4), and it is remembered.
    await aino.click('#help-button');
    await aino.locator('#help[open]').waitFor();
    await aino.uncheck('#single-key-shortcuts');
    await aino.locator('#shortcuts-off').waitFor();
    await aino.keyboard.press('Escape');
    await eventually(async () => assert.equal(await aino.locator('#help[open]').count(), 0));
    const handBefore = await aino.locator('#my-hand').count();
    await aino.keyboard.press('h');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await aino.locator('#my-hand').count(), handBefore, 'H does nothing while shortcuts are off');
    assert.equal(await aino.evaluate(() => localStorage.getItem('talkstick.singleKeyShortcuts')), 'off');
    await aino.click('#help-button');
    await aino.check('#single-key-shortcuts');
    await aino.keyboard.press('Escape');
    await eventually(async () => assert.equal(await aino.locator('#help[open]').count(), 0));
  });

  it('fits a phone-width screen', async () => {
    await chen.setViewportSize({ width: 390, height: 844 });
    await chen.waitForTimeout(200);
    const overflow = await chen.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
    await chen.screenshot({ path: path.join(screenshots, 'phone-queue.png'), style: QUIET });
    await fac.setViewportSize({ width: 390, height: 844 });
    await fac.waitForTimeout(200);
    assert.ok(await fac.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'facilitator page fits too');
    await fac.screenshot({ path: path.join(screenshots, 'phone-facilitator.png'), fullPage: true, style: QUIET });
    await fac.setViewportSize({ width: 1280, height: 720 });
  });

  it('gives a note back when the hand ends without a turn', async () => {
    if (await chen.locator('#lower').count()) await chen.click('#lower');
    await chen.locator('#note').waitFor();
    await chen.fill('#note', 'A second thought');
    await chen.press('#note', 'Enter');
    await chen.locator('#my-hand').waitFor();
    await eventually(async () => assert.equal(await queue(fac).locator('li[data-name="Chen"], li').filter({ hasText: 'Chen' }).count(), 1));
    await queue(fac).locator('li').filter({ hasText: 'Chen' }).locator('button[data-action="remove"]').click();
    await chen.locator('#note').waitFor();
    await eventually(async () => assert.equal(await chen.inputValue('#note'), 'A second thought'));
    // …and is told who did it, in words and to a screen reader.
    await eventually(async () => assert.match(await chen.textContent('#toasts'), /Facilitator removed your hand/));
    await eventually(async () => assert.match(await chen.textContent('#live-polite'), /removed your hand/));
  });

  it('lets a learner leave; the others see them go', async () => {
    await chen.click('#leave');
    await chen.click('#leave'); // the second click confirms
    await chen.locator('#notice-page').waitFor();
    assert.equal(await chen.textContent('#notice-title'), 'You left the room');
    for (const p of [fac, aino, bertil]) await eventually(async () => assert.equal(await p.locator('#people > li').count(), 3));
    assert.equal(await chen.evaluate(() => sessionStorage.length), 1, 'only the device choice is kept, not the resume token');
  });

  it('lets the facilitator remove a learner, asking twice; their link is refused afterwards', async () => {
    const button = fac.locator('#people > li[data-name="Bertil"] [data-action="remove"]');
    await button.click();
    assert.match(await button.textContent(), /Remove Bertil\?/);
    const ratio = await contrastOf(button);
    assert.ok(ratio >= 4.5, `the question is readable: contrast ${ratio.toFixed(2)}`);
    // The people list is drawn again while the facilitator confirms (Aino reacts): the
    // question stays, and the second click still confirms.
    await aino.keyboard.press('3');
    await eventually(async () => assert.equal(await tile(fac, 'Aino').locator('.tile-reaction').count(), 1));
    assert.match(await button.textContent(), /Remove Bertil\?/);
    await button.click(); // the second click confirms
    await bertil.locator('#notice-page').waitFor();
    assert.equal(await bertil.textContent('#notice-title'), 'You were removed from the room');
    for (const p of [fac, aino]) await eventually(async () => assert.equal(await p.locator('#people > li').count(), 2));
    await bertil.waitForTimeout(1500);
    assert.equal(await bertil.isVisible('#notice-page'), true, 'no reconnecting: the page stays on the notice');
    // The same link again is refused, in plain words.
    const again = await newPage(chrome.browser, server.links.find((l) => l.name === 'Bertil').url);
    await again.locator('#join-listen').waitFor();
    await again.click('#join-listen');
    await again.locator('#notice-page').waitFor();
    assert.match(await again.textContent('#notice-page'), /removed you from this room/);
    assert.equal(await fac.locator('#people > li').count(), 2, 'nobody came back');
    await again.close();
  });

  it('says so when the connection is lost', async () => {
    // A clock running when the connection goes: a free discussion's.
    if (await fac.locator('#fac-discussion:not([disabled])').count()) await fac.click('#fac-discussion');
    await eventually(async () => assert.match(await aino.textContent('#floor-elapsed'), /^Discussion for \d+:\d\d$/));
    await server.stop();
    await eventually(async () => assert.match(await aino.textContent('#conn-banner'), /Connection lost — reconnecting/));
    assert.match(await aino.textContent('#conn-banner'), /kept for 30 seconds/);
    assert.match(await aino.textContent('#conn-when'), /^\d+ s left\./);
    // The banner takes its room from the panels, never the controls off the screen.
    for (const p of [fac, aino]) {
      const bottom = await p.evaluate(() => document.getElementById('controls').getBoundingClientRect().bottom);
      assert.ok(bottom <= p.viewportSize().height + 1, `controls end at ${bottom}`);
    }
    for (const p of all) assert.deepEqual(p.problems, [], 'no script errors');
    assert.match(await fac.textContent('#conn-banner'), /Connection lost/);
    // (The browser logs its refused retries from here on.)
    // The floor clock stops: nobody here knows what happened since.
    const clock = async () => aino.textContent('#floor-elapsed');
    const before = await clock();
    assert.match(before, /\d+:\d\d/, 'a clock is running');
    await aino.waitForTimeout(2200);
    assert.equal(await clock(), before, 'the floor clock stood still while disconnected');

  });
});
