// One person, one participant: the same link opened on a second device takes the
// identity over (hand and place included), the first page says so, and nobody sees two.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, join, eventually } from './harness.js';

describe('the same link on a second device', () => {
  let server;
  let chrome;
  let fac;

  before(async () => {
    server = await startServer({ learners: 1 });
    chrome = await launchBrowser();
    fac = await newPage(chrome.browser, server.links[0].url);
    await join(fac, { listenOnly: true });
  });

  after(async () => {
    await chrome?.close();
    await server?.stop();
  });

  it('takes the identity over, and the first page says it was opened elsewhere', async () => {
    const link = server.links[1];
    const laptop = await newPage(chrome.browser, link.url);
    await join(laptop, { listenOnly: true });
    await laptop.click('#raise-new');
    await eventually(async () => assert.equal(await fac.locator('#queue > li').count(), 1));
    const id = await laptop.evaluate(() => window.talkstick.store.me.id);
    // Another device: its own browser context, no shared storage.
    const phone = await newPage(chrome.browser, link.url, { width: 390, height: 844, touch: true });
    await join(phone, { listenOnly: true });
    await laptop.locator('#notice-page').waitFor();
    assert.equal(await laptop.textContent('#notice-title'), 'Opened elsewhere');
    assert.match(await laptop.textContent('#notice-text'), /another device or in another window/);
    assert.equal(await phone.evaluate(() => window.talkstick.store.me.id), id, 'the same participant');
    await eventually(async () => assert.equal(await phone.locator('#my-hand').count(), 1, 'the hand came along'));
    const named = await fac.locator('#people > li', { hasText: link.name }).count();
    assert.equal(named, 1, `one ${link.name}, not two`);
    assert.equal(await fac.locator('#people > li').count(), 2);
    assert.deepEqual(phone.problems, []);
  });
});
