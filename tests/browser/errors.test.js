// What people see when something is wrong: bad or expired links, no microphone, a
// server that cannot be reached.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, newPage, expiredToken, mintLink } from './harness.js';

const EXPIRED = 'This link has expired — ask your facilitator for a new one.';

describe('error messages in plain language', () => {
  let server;
  let chrome;

  before(async () => {
    server = await startServer({ learners: 1 });
    chrome = await launchBrowser();
  });

  after(async () => {
    await chrome?.close();
    await server?.stop();
  });

  it('says an expired link has expired, before and after asking the server', async () => {
    const page = await newPage(chrome.browser, `${server.base}/?token=${expiredToken()}`);
    await page.locator('#notice-page').waitFor();
    assert.equal(await page.textContent('#notice-title'), "Can't join with this link");
    assert.equal(await page.textContent('#notice-text'), EXPIRED);
    // "Try anyway" (for a computer with a wrong clock): the server refuses it too.
    await page.click('text=try anyway');
    await page.click('#join-listen');
    await page.locator('#notice-page').waitFor();
    assert.equal(await page.textContent('#notice-text'), EXPIRED);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  it('says a link with a bad signature is not valid', async () => {
    const good = mintLink(server.base, { name: 'Mallory', role: 'facilitator' });
    const [head, body] = new URL(good).searchParams.get('token').split('.');
    const forged = `${head}.${body}.${'A'.repeat(43)}`;
    const page = await newPage(chrome.browser, `${server.base}/?token=${forged}`);
    assert.equal(await page.textContent('#prejoin-name'), 'Welcome, Mallory');
    await page.locator('#mic-select option').first().waitFor({ state: 'attached' });
    await page.click('#join');
    await page.locator('#notice-page').waitFor();
    assert.equal(await page.textContent('#notice-text'), "This link isn't valid for this server — ask your facilitator for a new one.");
    await page.context().close();
  });

  it('explains a link without a token, and one that is not a token at all', async () => {
    const page = await newPage(chrome.browser, `${server.base}/`);
    await page.locator('#notice-page').waitFor();
    assert.equal(await page.textContent('#notice-title'), 'This link is incomplete');
    await page.goto(`${server.base}/?token=not-a-token`);
    await page.locator('#notice-page').waitFor();
    assert.match(await page.textContent('#notice-text'), /isn't valid .* ask your facilitator for a new one/);
    await page.context().close();
  });

  for (const [name, problem, text] of [
    ['NotAllowedError', 'denied', /Microphone access was blocked/],
    ['NotFoundError', 'none', /No microphone was found/],
  ]) {
    it(`offers listen-only when the microphone fails (${problem})`, async () => {
      const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 720 } });
      await context.addInitScript((errName) => {
        navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('test', errName));
      }, name);
      const page = await context.newPage();
      page.setDefaultTimeout(8000);
      await page.goto(mintLink(server.base, { name: `No Mic ${problem}` }));
      await page.locator(`#prejoin[data-mic-problem="${problem}"]`).waitFor();
      assert.match(await page.textContent('#mic-status'), text);
      assert.equal(await page.isVisible('#join'), false);
      assert.match(await page.getAttribute('#join-listen', 'class'), /primary/);
      await page.click('#join-listen');
      await page.locator('#floor-holder').waitFor();
      assert.match(await page.textContent('#mic-toggle'), /Listen-only/);
      // The rest of the page still works: raise a hand by key.
      await page.keyboard.press('h');
      await page.locator('#my-hand').waitFor();
      await context.close();
    });
  }

  it("says when the server can't be reached", async () => {
    const page = await newPage(chrome.browser, mintLink(server.base, { name: 'Late Larry' }));
    await page.locator('#mic-select option').first().waitFor({ state: 'attached' });
    await server.stop();
    await page.click('#join');
    await page.locator('#conn-banner').waitFor();
    await page.waitForFunction(() => /Can't reach the Talkstick server/.test(document.getElementById('conn-banner').textContent), null, { timeout: 8000 });
    await page.context().close();
  });
});
