// Before entering: who you are (from the link), microphone picker, live level meter,
// speaker test, and a listen-only way in when there is no microphone.

import { h, render } from '../dom.js';
import { ROLE_LABEL } from '../labels.js';
import { MIC_PROBLEMS } from '../micCheck.js';
import { icon } from '../icons.js';

/**
 * Shows the pre-join screen in `root`. Resolves with
 * `{listenOnly, deviceId, micOn}` when the person chooses to join.
 */
export function showPrejoin(root, { claims, mic }) {
  return new Promise((resolve) => {
    let raf = 0;
    let chosen = false;
    const select = h('select', { id: 'mic-select', 'aria-describedby': 'mic-status' });
    const fill = h('span', { class: 'meter-fill' });
    const meter = h('div', {
      class: 'meter', id: 'mic-meter', role: 'meter', 'aria-label': 'Microphone level',
      'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0',
    }, fill);
    const status = h('p', { id: 'mic-status', class: 'mic-status', 'aria-live': 'polite' }, 'Asking the browser for your microphone…');
    const retry = h('button', { type: 'button', id: 'mic-retry', hidden: true, on: { click: () => openMic(select.value || null) } }, 'Try again');
    const micOn = h('input', { type: 'checkbox', id: 'start-mic-on' });
    const speakerNote = h('span', { class: 'hint', id: 'speaker-note' }, 'You should hear two short tones.');
    const join = h('button', { type: 'button', id: 'join', class: 'primary big', on: { click: () => done(false) } }, 'Join the room');
    const listen = h('button', { type: 'button', id: 'join-listen', class: 'big', on: { click: () => done(true) } }, 'Join listen-only');

    const speaker = h('button', {
      type: 'button', id: 'speaker-test',
      on: {
        click: async () => {
          const ok = await mic.testSpeaker();
          speakerNote.textContent = ok ? 'Playing… You should hear two short tones. No sound? Check your volume and headset.' : "This browser can't play a test sound.";
        },
      },
    }, icon('play'), ' Play test sound');

    select.addEventListener('change', () => openMic(select.value));

    render(root,
      h('div', { class: 'prejoin-card' },
        h('p', { class: 'eyebrow' }, `Room ${claims.room || ''}`.trim()),
        h('h1', { id: 'prejoin-name' }, `Welcome, ${claims.name}`),
        h('p', { class: 'lead' }, `You'll join as ${ROLE_LABEL[claims.role].toLowerCase()}. First, check that others will hear you and that you can hear them.`),
        h('section', { class: 'check', 'aria-labelledby': 'mic-h' },
          h('h2', { id: 'mic-h' }, icon('mic'), ' Microphone'),
          h('label', { for: 'mic-select' }, 'Use this microphone'),
          select,
          meter,
          status,
          retry,
          h('label', { class: 'check-row' }, micOn, ' Start with my microphone on')),
        h('section', { class: 'check', 'aria-labelledby': 'spk-h' },
          h('h2', { id: 'spk-h' }, icon('headphones'), ' Speakers or headset'),
          h('div', { class: 'row' }, speaker, speakerNote)),
        h('div', { class: 'join-row' }, join, listen),
        h('p', { class: 'hint' }, 'Tip: a headset avoids echo. Press ? in the room for keyboard shortcuts.')));

    function tick() {
      const level = mic.level();
      fill.style.width = `${Math.round(level * 100)}%`;
      meter.setAttribute('aria-valuenow', String(Math.round(level * 100)));
      raf = requestAnimationFrame(tick);
    }

    async function openMic(deviceId) {
      status.textContent = 'Asking the browser for your microphone…';
      status.className = 'mic-status';
      retry.hidden = true;
      const res = await mic.open(deviceId);
      if (chosen) return;
      if (!res.ok) {
        status.textContent = MIC_PROBLEMS[res.problem];
        status.className = 'mic-status problem';
        root.dataset.micProblem = res.problem;
        retry.hidden = res.problem === 'insecure' || res.problem === 'unsupported';
        join.hidden = true;
        listen.classList.add('primary');
        select.disabled = true;
        micOn.disabled = true;
        listen.focus();
        return;
      }
      delete root.dataset.micProblem;
      join.hidden = false;
      listen.classList.remove('primary');
      select.disabled = false;
      micOn.disabled = false;
      status.textContent = 'Say something: the bar should move. If it stays still, pick another microphone.';
      const devices = await mic.devices();
      render(select, devices.map((d) => h('option', { value: d.deviceId, selected: d.deviceId === res.deviceId }, d.label)));
      if (!raf) tick();
    }

    function done(listenOnly) {
      if (chosen) return;
      chosen = true;
      cancelAnimationFrame(raf);
      if (listenOnly) mic.release();
      resolve({ listenOnly: listenOnly || !mic.stream, deviceId: listenOnly ? null : mic.deviceId(), micOn: !listenOnly && micOn.checked });
    }

    // Browsers start audio only after a gesture: any click or key wakes the meter.
    const wake = () => mic.audioContext();
    root.addEventListener('pointerdown', wake);
    root.addEventListener('keydown', wake);
    navigator.mediaDevices?.addEventListener?.('devicechange', async () => {
      if (chosen || !mic.stream) return;
      const devices = await mic.devices();
      render(select, devices.map((d) => h('option', { value: d.deviceId, selected: d.deviceId === mic.deviceId() }, d.label)));
    });
    openMic(null);
    join.focus();
  });
}
