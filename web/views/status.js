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

/** How long the server keeps a dropped participant's identity and place (its resume
 *  grace, protocol §4). */
export const PLACE_KEPT_MS = 30_000;

/**
 * What the banner says while reconnecting, at `now`: `{text}` is read out once when it
 * changes, `{when}` is the ticking part. It only promises a kept place while the server
 * can still keep it.
 */
export function reconnectWords(s, now) {
  const secs = Math.max(0, Math.ceil((s.retryAt - now) / 1000));
  const retry = secs > 0 ? `Trying again in ${secs} s.` : 'Trying again now…';
  if (s.reason === 'room_full') return { text: errorText('room_full'), when: retry };
  if (!s.everJoined) return { text: "Can't reach the Talkstick server. Check your network connection.", when: retry };
  const kept = s.lostAt == null ? PLACE_KEPT_MS : PLACE_KEPT_MS - (now - s.lostAt);
  if (kept > 0) {
    return { text: 'Connection lost — reconnecting. Your place in the queue is kept for 30 seconds.', when: `${Math.ceil(kept / 1000)} s left. ${retry}` };
  }
  return { text: 'Still reconnecting. It has been more than 30 seconds, so your place in the queue is probably gone; you will rejoin as soon as the server answers.', when: retry };
}

/** What to tell someone whose page got the room back after `offlineMs` without it. */
export function reconnectedWords({ resumed, hadHand, offlineMs }) {
  if (resumed) return { text: 'Reconnected — you kept your place.', kind: 'info' };
  if (offlineMs < PLACE_KEPT_MS) {
    // Back within the grace period, yet the server did not know us: it restarted.
    return { text: `The Talkstick server restarted and the room started again without what was in it${hadHand ? ', so your raised hand was lost. Raise it again if you still want to speak' : ''}.`, kind: 'warn' };
  }
  if (hadHand) return { text: 'Reconnected after more than 30 seconds, as a new participant — your raised hand was lost. Raise it again if you still want to speak.', kind: 'warn' };
  return { text: 'Reconnected after more than 30 seconds, as a new participant.', kind: 'warn' };
}

/** Keeps the banner in step with the connection; returns a function for the clock. */
export function connectionBanner(conn, { onStopped }) {
  let status = conn.status;

  function draw() {
    const el = banner();
    const s = status;
    if (s.state === 'reconnecting') {
      const { text, when } = reconnectWords(s, performance.now());
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
