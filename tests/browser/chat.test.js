// Chat beside the floor: a message never takes a turn, shows in its author's colour,
// turns links into links and never markup into markup, counts unread messages out of
// sight, is limited in size and rate, can be deleted by a facilitator, and is there for
// someone who joins late.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, launchBrowser, newPage, join, screenshots, contrastOf, eventually } from './harness.js';

const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> see https://example.org/page?a=1&b=2.';

async function say(page, text) {
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
}

const texts = (page) => page.locator('#chat-log .chat-text').allInnerTexts();

describe('chat', () => {
  let server;
  let chrome;
  let fac;
  let aino;
  let bo;

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    server = await startServer({ learners: 3 });
    chrome = await launchBrowser();
    fac = await newPage(chrome.browser, server.links[0].url);
    await join(fac);
    aino = await newPage(chrome.browser, server.links[1].url);
    await join(aino, { listenOnly: true });
    bo = await newPage(chrome.browser, server.links[2].url);
    await join(bo, { listenOnly: true });
  });

  after(async () => {
    for (const p of [fac, aino, bo]) if (p?.problems.length) console.error(p.problems.join('\n'));
    await chrome?.close();
    await server?.stop();
  });

  it('shows a message as text, in its author\'s colour, with its link, and takes no turn', async () => {
    await say(aino, HOSTILE);
    await eventually(async () => assert.equal((await texts(bo)).length, 1));
    const [shown] = await texts(bo);
    assert.equal(shown, HOSTILE.trim(), 'the markup shows as the characters it is');
    assert.equal(await bo.locator('#chat-log img, #chat-log script').count(), 0);
    assert.equal(await bo.evaluate(() => window.__pwned), undefined);
    const link = bo.locator('#chat-log a');
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute('href'), 'https://example.org/page?a=1&b=2', 'the full stop is not part of it');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener/);
    // Coloured by person: the message's colour is its author's.
    const colour = await bo.evaluate(() => {
      const s = window.talkstick.store;
      const author = [...s.people.values()].find((p) => p.name === s.chat[0].name);
      const bar = getComputedStyle(document.querySelector('#chat-log .chat-msg')).getPropertyValue('--c').trim();
      return { bar, person: author.colour };
    });
    assert.equal(colour.bar, colour.person);
    // Never a turn: the floor stays free and the queue empty, for everyone.
    for (const p of [fac, aino, bo]) {
      const { floor, queue } = await p.evaluate(() => ({ floor: window.talkstick.store.floor.state, queue: window.talkstick.store.queue.length }));
      assert.deepEqual({ floor, queue }, { floor: 'free', queue: 0 });
    }
    assert.equal(await aino.inputValue('#chat-input'), '', 'the box is empty after sending');
  });

  it('counts messages that arrive out of sight as unread', async () => {
    // Enough lines that the log scrolls, then Bo reads back up.
    const long = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n');
    await fac.fill('#chat-input', long);
    await fac.click('#chat-form button[type=submit]');
    await eventually(async () => assert.equal((await texts(bo)).length, 2));
    assert.equal(await bo.isVisible('#chat-unread'), false, 'in sight: nothing unread');
    // Scrolled up to stay: a frame drawing the last message may still pull the log down
    // (under load it comes after the text is on the page), so look two frames later.
    await eventually(async () => {
      const top = await bo.evaluate(() => new Promise((done) => {
        const log = document.getElementById('chat-log');
        log.scrollTop = 0;
        requestAnimationFrame(() => requestAnimationFrame(() => done(log.scrollTop)));
      }));
      assert.equal(top, 0);
    });
    await say(aino, 'one more');
    await eventually(async () => assert.equal(await bo.textContent('#chat-unread'), '1 new'));
    await bo.screenshot({ path: path.join(screenshots, 'chat-unread.png') });
    await bo.click('#chat-unread');
    await eventually(async () => assert.equal(await bo.isVisible('#chat-unread'), false));
  });

  it('refuses a message over 1,000 characters, and a flood shows one toast', async () => {
    await bo.fill('#chat-input', 'x'.repeat(1001));
    await bo.press('#chat-input', 'Enter');
    await eventually(async () => assert.match(await bo.textContent('#toasts'), /keep it to 1000/));
    assert.equal(await bo.inputValue('#chat-input'), 'x'.repeat(1001), 'the text stays to be shortened');
    const before = (await texts(fac)).length;
    // Eight sends in one go through the form, as fast as a held Enter key: one second
    // between them would earn one more (the budget refills a message a second).
    await bo.evaluate(() => {
      const input = document.getElementById('chat-input');
      const form = document.getElementById('chat-form');
      for (let i = 0; i < 8; i += 1) { input.value = `flood ${i}`; form.requestSubmit(); }
    });
    // One toast for the three refused (the length toast above may still show beside it).
    const slowDown = bo.locator('#toasts .toast-error', { hasText: 'Slow down a little — too many chat messages' });
    await eventually(async () => assert.equal(await slowDown.count(), 1));
    await eventually(async () => assert.equal((await texts(fac)).length, before + 5), 4000);
  });

  it('lets a facilitator delete a message for everyone, asked twice', async () => {
    const target = fac.locator('#chat-log .chat-msg').filter({ hasText: 'flood 0' }).locator('button');
    await target.click();
    assert.equal(await target.textContent(), 'Delete?');
    const ratio = await contrastOf(target);
    assert.ok(ratio >= 4.5, `the question is readable: contrast ${ratio.toFixed(2)}`);
    await target.click();
    await eventually(async () => assert.ok(!(await texts(bo)).includes('flood 0')));
    assert.equal(await bo.locator('#chat-log button').count(), 0, 'learners have no delete');
  });

  it('is there for someone who joins late, deleted messages left out', async () => {
    const late = await newPage(chrome.browser, server.links[3].url);
    await join(late, { listenOnly: true });
    await eventually(async () => assert.equal((await texts(late)).length, (await texts(fac)).length));
    const got = await texts(late);
    assert.equal(got[0], HOSTILE.trim());
    assert.ok(!got.includes('flood 0'));
    assert.equal(await late.isVisible('#chat-unread'), false, 'history is not unread');
    await late.screenshot({ path: path.join(screenshots, 'chat-late-joiner.png') });
    assert.deepEqual(late.problems, []);
  });
});
