// A server killed mid-session (SIGKILL, as in a crash) and started again on the same data
// directory and port: every client comes back by itself to the room as it was.
//
// Two Chromium pages (the facilitator listening, Aino holding the floor with a voice-like
// microphone) and six WebSocket clients (run inside a third page, each reconnecting with
// its resume token as any client should) are in a moderated room with a time limit
// running and three hands with notes. After the restart, nobody has to do anything:
// each client's welcome carries a seq at least as high as the last it had seen, the
// queue, notes, floor and settings are those they last saw, Aino's talk time goes on
// counting and the facilitator hears her again. What a user would notice is counted:
// reconnects, warnings and errors on the pages.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, newPage, join, voiceWav, heardBy, eventually, screenshots } from './harness.js';

/** Six clients in one page: each joins, keeps its view, and resumes on a dropped socket. */
function bots({ wsUrl, people }) {
  const all = people.map(({ name, token }) => ({
    name, token, id: null, resume: null, lastSeq: 0, seqBack: [], welcomes: [], closes: 0,
    queue: [], notes: {}, floor: null, settings: null, offered: false,
  }));
  const open = (b) => {
    const ws = new WebSocket(wsUrl);
    b.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'join', v: 1, token: b.token, ...(b.resume ? { resume: b.resume } : {}) }));
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'welcome') {
        b.welcomes.push({ seq: m.seq, resumed: m.you.resumed, id: m.you.id, lastSeqBefore: b.lastSeq });
        b.id = m.you.id;
        b.resume = m.you.resume_token;
        b.queue = m.room.queue.map((h) => h.participant);
        b.notes = Object.fromEntries(m.room.queue.filter((h) => h.note).map((h) => [h.participant, h.note]));
        b.floor = m.room.floor;
        b.settings = m.room.settings;
      } else {
        if (m.seq < b.lastSeq) b.seqBack.push([b.lastSeq, m.seq]);
        if (m.type === 'queue') b.queue = m.hands.map((h) => h.participant);
        if (m.type === 'floor') b.floor = m.floor;
        if (m.type === 'settings') b.settings = m.settings;
      }
      b.lastSeq = Math.max(b.lastSeq, m.seq);
    };
    ws.onclose = () => {
      b.closes += 1;
      if (b.closes < 200) setTimeout(() => open(b), 250);
    };
  };
  all.forEach(open);
  window.bots = all;
  window.botSend = (i, msg) => all[i].ws.send(JSON.stringify(msg));
}

describe('a server killed mid-session', () => {
  let server;
  let scratch;
  let dataDir;
  let chrome;
  let fac;
  let aino;
  let botPage;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'talkstick-restart-'));
    dataDir = path.join(scratch, 'data');
    const voice = path.join(scratch, 'voice.wav');
    voiceWav(voice, { f0: 190, gain: 0.45 });
    server = await startServer({ learners: 7, dataDir });
    chrome = await launchBrowser({ fakeAudio: voice });
    const link = (name) => server.links.find((l) => l.name === name).url;
    fac = await newPage(chrome.browser, link('Facilitator'));
    await join(fac, { listenOnly: true });
    aino = await newPage(chrome.browser, link('Aino'), { rawMic: true });
    await aino.locator('#start-mic-on').check();
    await join(aino);
    // Every toast the pages show, with its kind, across the whole session.
    for (const page of [fac, aino]) {
      await page.evaluate(() => {
        window.toastsSeen = [];
        new MutationObserver((records) => {
          for (const r of records) for (const n of r.addedNodes) {
            if (n.classList?.contains('toast')) window.toastsSeen.push({ kind: n.className, text: n.textContent.trim() });
          }
        }).observe(document.body, { childList: true, subtree: true });
      });
    }
    botPage = await newPage(chrome.browser, `${server.base}/healthz`);
    const people = server.links.filter((l) => l.role === 'learner' && l.name !== 'Aino')
      .map((l) => ({ name: l.name, token: new URL(l.url).searchParams.get('token') }));
    assert.equal(people.length, 6);
    await botPage.evaluate(bots, { wsUrl: `${server.base.replace("http", "ws")}/ws`, people });
    await eventually(async () => assert.equal(await botPage.evaluate(() => window.bots.filter((b) => b.id).length), 6));
  });

  after(async () => {
    await chrome?.close();
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('comes back with the queue, the floor and the settings, and every client reconnects by itself', async (t) => {
    const send = (type, fields = {}) => fac.evaluate(([t, f]) => window.talkstick.connection.send(t, f), [type, fields]);
    // Moderated, a time limit, Aino holding the floor, three hands with notes.
    await send('update_settings', { settings: { mode: 'moderated', time_limit_ms: 600_000 } });
    await aino.click('#raise-new');
    await aino.locator('#accept-floor').click();
    await eventually(async () => assert.equal(await heardNames(fac), 'Aino'));
    const notes = ['the budget', 'a question about it', 'an example'];
    for (let i = 0; i < 3; i++) {
      await botPage.evaluate(([i, note]) => window.botSend(i, { type: 'raise_hand', kind: 'new_point', note }), [i, notes[i]]);
      await eventually(async () => assert.equal(await botPage.evaluate(() => window.bots[0].queue.length), i + 1));
    }
    await eventually(async () => assert.equal((await roomAsSeen(fac)).queue.length, 3));
    const before = await roomAsSeen(fac);
    assert.deepEqual(before.queue.map((h) => h.note), notes);
    const seen = await botPage.evaluate(() => window.bots.map((b) => ({ id: b.id, lastSeq: b.lastSeq })));
    const facSeq = await fac.evaluate(() => window.talkstick.connection.seq);
    const talkBefore = await talkMs(fac, before.holder);

    // Killed: no shutdown code runs. Started again on the same data dir and port.
    const port = new URL(server.base).port;
    await server.crash();
    const killedAt = performance.now();
    server = await startServer({ learners: 7, dataDir, port: Number(port) });
    const upAt = performance.now();

    // Every client is back by itself, as the same person, with no seq taken back.
    await eventually(async () => {
      const b = await botPage.evaluate(() => window.bots.map((x) => ({ ...x, ws: undefined })));
      for (const [i, bot] of b.entries()) {
        const last = bot.welcomes.at(-1);
        assert.equal(bot.welcomes.length, 2, `${bot.name} reconnected once`);
        assert.equal(last.resumed, true, `${bot.name} resumed`);
        assert.equal(last.id, seen[i].id, `${bot.name} kept their id`);
        assert.ok(last.seq >= seen[i].lastSeq, `${bot.name}: welcome seq ${last.seq} ≥ ${seen[i].lastSeq} seen`);
        assert.deepEqual(bot.seqBack, []);
      }
    }, 20_000);
    await eventually(async () => {
      const status = await fac.evaluate(() => window.talkstick.connection.status);
      assert.equal(status.state, 'joined');
      assert.equal(status.resumed, true);
    }, 20_000);
    const backAt = performance.now();
    assert.ok(await fac.evaluate(() => window.talkstick.connection.seq) >= facSeq);
    const afterRoom = await roomAsSeen(fac);
    assert.deepEqual(afterRoom.queue, before.queue, 'the queue and its notes');
    assert.equal(afterRoom.holder, before.holder, 'the floor');
    assert.equal(afterRoom.turn, before.turn, 'the same turn');
    assert.equal(afterRoom.mode, 'moderated');
    assert.equal(afterRoom.limit, 600_000);
    assert.deepEqual(afterRoom.colours, before.colours, 'everyone keeps their colour');
    // Aino's page reconnected too: she still holds the floor, her microphone is heard
    // again, and her talk time went on counting.
    await eventually(async () => assert.equal(await aino.evaluate(() => window.talkstick.store.iHoldFloor()), true), 20_000);
    try {
      await eventually(async () => assert.equal(await heardNames(fac), 'Aino'), 20_000);
    } catch (e) {
      const audioOf = (page) => page.evaluate(() => ({
        pc: window.talkstickMedia?.pc?.connectionState,
        signaling: window.talkstickMedia?.pc?.signalingState,
        slots: [...(window.talkstickMedia?.slots ?? new Map()).entries()],
        audio: [...window.talkstick.store.people.values()].map((p) => [p.name, p.audio, p.connected, p.mic_on]),
      }));
      throw new Error(`not heard after the restart: fac ${JSON.stringify(await audioOf(fac))}, Aino ${JSON.stringify(await audioOf(aino))}\n${server.logs()}`, { cause: e });
    }
    const heardAt = performance.now();
    t.diagnostic(`server up again ${Math.round(upAt - killedAt)} ms after the kill; every client back ${Math.round(backAt - killedAt)} ms, Aino heard ${Math.round(heardAt - killedAt)} ms after it`);
    await fac.screenshot({ path: path.join(screenshots, 'after-restart.png') });
    assert.ok(await talkMs(fac, before.holder) > talkBefore, 'talk time keeps counting');

    // What the people noticed: one "connection lost" banner, then "you kept your place";
    // no errors, and no message that the room was lost.
    for (const page of [fac, aino]) {
      const toasts = await page.evaluate(() => window.toastsSeen);
      assert.deepEqual(toasts.filter((t) => /toast-error/.test(t.kind)), [], 'no error toasts');
      assert.ok(!toasts.some((t) => /restarted|new participant|lost/.test(t.text)), JSON.stringify(toasts));
      assert.ok(toasts.some((t) => /kept your place/.test(t.text)), JSON.stringify(toasts));
      assert.deepEqual(page.problems, []);
    }
    // The queue works on: Aino is done, and the first hand is offered the floor.
    await aino.click('#done');
    await eventually(async () => assert.equal(await botPage.evaluate(() => window.bots[0].floor?.offered_to), seen[0].id));
  });
});

/** The room as the facilitator's page holds it. */
function roomAsSeen(page) {
  return page.evaluate(() => {
    const s = window.talkstick.store;
    return {
      queue: s.queue.map((h) => ({ participant: h.participant, kind: h.kind, note: h.note ?? null })),
      holder: s.floor?.holder ?? null,
      turn: s.floor?.turn ?? null,
      mode: s.settings.mode,
      limit: s.settings.time_limit_ms,
      colours: Object.fromEntries([...s.people.values()].map((p) => [p.id, p.colour])),
    };
  });
}

/** Whom the page hears, names joined by commas. */
async function heardNames(page) {
  return Object.keys(await heardBy(page)).sort().join(',');
}

/** A participant's talk time in the facilitator's statistics (asks the server). */
async function talkMs(page, id) {
  return page.evaluate(async (pid) => {
    const { store, connection } = window.talkstick;
    const s = await new Promise((resolve) => {
      const off = store.on('stats', () => { off(); resolve(store.stats); });
      connection.send('get_stats');
    });
    return s.people.find((p) => p.participant === pid)?.talk_ms ?? -1;
  }, id);
}
