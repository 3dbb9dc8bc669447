// A learner on a phone: a touch screen without keys. The page speaks of buttons, not
// keys, and push-to-talk has a button to hold instead of the Space bar.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, launchBrowser, newPage, join, screenshots, eventually } from './harness.js';

describe('a learner on a phone', () => {
  let server;
  let chrome;
  let fac;
  let phone;

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    server = await startServer({ learners: 1 });
    chrome = await launchBrowser();
    fac = await newPage(chrome.browser, server.links[0].url);
    await join(fac);
    phone = await newPage(chrome.browser, server.links[1].url, { width: 390, height: 844, touch: true });
    await join(phone);
  });

  after(async () => {
    for (const p of [fac, phone]) if (p?.problems.length) console.error(p.problems.join('\n'));
    await chrome?.close();
    await server?.stop();
  });

  it('speaks of buttons, not keys', async () => {
    assert.equal(await phone.evaluate(() => matchMedia('(pointer: coarse)').matches), true);
    const empty = await phone.locator('#queue-empty').innerText();
    assert.match(empty, /Tap “New point”/);
    assert.doesNotMatch(empty, /Press/);
    await phone.click('#help-button');
    await phone.locator('#help-buttons').waitFor();
    assert.match(await phone.textContent('#help-body'), /Later — keep my hand/);
    assert.equal(await phone.locator('#help-body dl.keys kbd').count(), 0, 'no keys listed');
    await phone.click('#help-close');
  });

  it('has a hold-to-talk button when push-to-talk is on', async () => {
    const name = server.links[1].name;
    const micOf = () => fac.locator('#people > li').filter({ hasText: name }).textContent();
    await phone.click('#ptt-toggle');
    const hold = phone.locator('#hold-to-talk');
    await hold.waitFor();
    assert.equal(await phone.isVisible('#ptt-hint'), false, 'no "hold Space" on a phone');
    const box = await hold.boundingBox();
    await phone.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await phone.mouse.down();
    await eventually(async () => assert.match(await phone.textContent('#mic-toggle'), /Mic on/));
    await eventually(async () => assert.match(await micOf(), /Mic on/));
    await phone.screenshot({ path: path.join(screenshots, 'phone-hold-to-talk.png') });
    await phone.mouse.up();
    await eventually(async () => assert.match(await phone.textContent('#mic-toggle'), /Mic off/));
    await eventually(async () => assert.doesNotMatch(await micOf(), /Mic on/));
    assert.deepEqual(phone.problems, []);
  });
});
