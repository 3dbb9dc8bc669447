// Session reports in the browser, as people reach them: the facilitator opens "Session
// reports" from the Balance tab during the session (talk time in colours, the timeline,
// waits and outcomes, CSV), a learner who leaves opens "My summary" (their own numbers
// only), the facilitator ends the session, and once a new one began, opens the earlier
// one from the list.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, eventually, screenshots } from './harness.js';

describe('session reports', () => {
  let server;
  let chrome;
  let fac;
  let aino;
  const link = (name) => server.links.find((l) => l.name === name).url;

  before(async () => {
    server = await startServer({ learners: 2 });
    chrome = await launchBrowser();
    fac = await newPage(chrome.browser, link('Facilitator'));
    await join(fac, { listenOnly: true });
    aino = await newPage(chrome.browser, link('Aino'));
    await join(aino, { listenOnly: true });
  });

  after(async () => {
    await chrome?.close();
    await server?.stop();
  });

  it('a facilitator reads the running session: talk time, timeline, waits, CSV', async () => {
    await aino.fill('#note', 'my private point');
    await aino.click('#raise-new');
    await aino.locator('#accept-floor').click();
    await aino.waitForTimeout(1500);
    await aino.click('#done');
    await aino.click('#raise-new');
    await eventually(async () => assert.equal(await fac.locator('#queue > li').count(), 1));
    await aino.click('#lower');
    await eventually(async () => assert.equal(await fac.locator('#queue > li').count(), 0));

    await fac.click('#tab-balance');
    const [report] = await Promise.all([fac.context().waitForEvent('page'), fac.click('#open-reports')]);
    await report.locator('#report-talk li').first().waitFor();
    assert.equal(await report.locator('#report-talk li').count(), 2);
    assert.match(await report.textContent('#report-talk'), /Aino/);
    assert.equal(await report.locator('.timeline svg rect').count(), 1, 'one turn on the timeline');
    const waits = await report.locator('section[aria-labelledby="hands-h"] tbody tr').allTextContents();
    assert.equal(waits.length, 2);
    assert.match(waits[0], /took the floor/);
    assert.match(waits[1], /lowered it/);
    assert.doesNotMatch(await report.textContent('body'), /my private point/, 'no notes in a report');
    await report.screenshot({ path: path.join(screenshots, 'report.png'), fullPage: true });
    const [download] = await Promise.all([report.waitForEvent('download'), report.click('#report-download-hands')]);
    const csv = readFileSync(await download.path(), 'utf8');
    assert.match(csv, /^name,kind,raised_ms,offered_ms,ended_ms,outcome,wait_ms\r\nAino,new_point,/);
    assert.deepEqual(report.problems ?? [], []);
    await report.close();
  });

  it('a learner who leaves opens her own summary, with nobody else in it', async () => {
    await aino.click('#leave');
    await aino.click('#leave');
    await aino.locator('#notice-page').waitFor();
    const [mine] = await Promise.all([aino.context().waitForEvent('page'), aino.getByRole('button', { name: 'My summary' }).click()]);
    await mine.locator('#mine-h').waitFor();
    const text = await mine.textContent('body');
    assert.match(text, /Turns\s*1/);
    assert.match(text, /Points raised\s*2/);
    assert.doesNotMatch(text, /Facilitator|Bertil|my private point/);
    await mine.screenshot({ path: path.join(screenshots, 'summary.png'), fullPage: true });
    await mine.close();
  });

  it('the facilitator ends the session; later, it is in the list of past sessions', async () => {
    await fac.click('#tab-floor');
    await fac.click('#fac-end-session');
    await fac.click('#fac-end-session'); // the second click confirms
    await fac.locator('#notice-page').waitFor();
    assert.equal(await fac.textContent('#notice-title'), 'The session has ended');
    assert.match(await fac.textContent('#notice-text'), /Facilitator ended the session/);
    // A new session in the same room, later.
    const again = await newPage(chrome.browser, link('Facilitator'));
    await join(again, { listenOnly: true });
    await again.click('#tab-balance');
    const [report] = await Promise.all([again.context().waitForEvent('page'), again.click('#open-reports')]);
    await eventually(async () => assert.equal(await report.locator('#session-list button').count(), 2));
    await report.locator('#session-list button').nth(1).click();
    await eventually(async () => assert.equal(await report.locator('.timeline svg rect').count(), 1));
    assert.doesNotMatch(await report.textContent('#facts-h'), /running/);
    assert.equal(await report.locator('#report-delete').count(), 1, 'an ended session can be deleted');
  });
});
