// A facilitator invites someone from the page, without a shell: the Invite tab makes a
// learner link for this room, and the person who opens it joins as that learner.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, eventually, screenshots } from './harness.js';

describe('inviting from the facilitator page', () => {
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

  it('makes a learner link that admits the person named', async () => {
    await fac.click('#tab-invite');
    await fac.fill('#invite-name', 'Chen Li');
    await fac.selectOption('#invite-hours', '2');
    await fac.click('#invite-make');
    const url = await fac.locator('#invite-latest').inputValue();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    assert.match(await fac.textContent('#invite-links'), /Chen Li · until/);
    // The QR code holds the link: read back from the page's pixels by zbar.
    await fac.click('#invite-qr-toggle');
    const png = path.join(screenshots, 'invite-qr.png');
    await fac.locator('#invite-qr svg').screenshot({ path: png });
    assert.equal(execFileSync('zbarimg', ['-q', '--raw', png], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(), url);
    await fac.screenshot({ path: path.join(screenshots, 'invite.png') });
    // Nothing without a name; the form says so rather than making a nameless link.
    await fac.click('#invite-make');
    assert.equal(await fac.locator('#invite-links > li').count(), 1);

    const chen = await newPage(chrome.browser, url);
    await join(chen, { listenOnly: true });
    assert.equal(await chen.evaluate(() => window.talkstick.store.me.role), 'learner');
    await eventually(async () => assert.equal(await fac.locator('#people > li[data-name="Chen Li"]').count(), 1));
    assert.deepEqual(fac.problems, []);
    assert.deepEqual(chen.problems, []);
  });
});
