// Connection state for people: a slim banner while reconnecting, and a full notice
// page when the page cannot go on (bad link, left, opened elsewhere).

import { h, render } from '../dom.js';
import { errorText } from '../labels.js';

const banner = () => document.getElementById('conn-banner');

/** Shows a full-page notice with optional buttons `[{label, run, primary}]`. */
export function showNotice(title, text, buttons = []) {
  for (const id of ['boot', 'prejoin', 'room']) document.getElementById(id).hidden = true;
  banner().hidden = true;
  document.getElementById('notice-title').textContent = title;
  document.getElementById('notice-text').textContent = text;
  render(document.getElementById('notice-actions'), buttons.map((b) => h('button', {
    type: 'button', class: b.primary ? 'primary big' : 'big', on: { click: b.run },
  }, b.label)));
  const page = document.getElementById('notice-page');
  page.hidden = false;
  document.body.dataset.screen = 'notice';
  const heading = document.getElementById('notice-title');
  heading.tabIndex = -1;
  (page.querySelector('button.primary') || heading).focus();
}

/** Keeps the banner in step with the connection; returns a function for the clock. */
export function connectionBanner(conn, { onStopped }) {
  let status = conn.status;

  function draw() {
    const el = banner();
    const s = status;
    if (s.state === 'reconnecting') {
      const secs = Math.max(0, Math.ceil((s.retryAt - performance.now()) / 1000));
      const when = secs > 0 ? `Trying again in ${secs} s.` : 'Trying again now…';
      let text;
      if (s.reason === 'room_full') text = errorText('room_full');
      else if (!s.everJoined) text = "Can't reach the Talkstick server. Check your network connection.";
      else text = 'Connection lost — reconnecting. Your place in the queue is kept for 30 seconds.';
      el.hidden = false;
      el.dataset.kind = 'warn';
      if (el.dataset.text !== text) {
        // The banner is a live region: the message is read once, the countdown is not.
        el.dataset.text = text;
        render(el, h('span', { id: 'conn-text' }, text), ' ',
          h('span', { id: 'conn-when', 'aria-hidden': 'true' }), ' ',
          h('button', { type: 'button', class: 'small', id: 'reconnect-now', on: { click: () => conn.retryNow() } }, 'Try now'));
      }
      const whenEl = document.getElementById('conn-when');
      if (whenEl.textContent !== when) whenEl.textContent = when;
    } else if (s.state === 'connecting') {
      el.hidden = false;
      el.dataset.kind = 'info';
      if (el.dataset.text !== 'connecting') {
        el.dataset.text = 'connecting';
        render(el, 'Connecting…');
      }
    } else {
      el.hidden = true;
      el.dataset.text = '';
    }
  }

  conn.onStatus((s) => {
    status = s;
    draw();
    if (s.state === 'stopped') onStopped(s);
  });
  return draw;
}
