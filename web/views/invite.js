// Facilitator: the Invite tab. Makes a learner link for this room through the server
// (`POST /api/invites`, authorised by the facilitator's own token), with a copy button
// and a QR code (drawn here, no CDN) for a learner to scan with a phone.

import { h, render } from '../dom.js';
import { tokenFromUrl } from '../token.js';
import { qrSvg } from '../qr.js';

export function inviteView({ toast }) {
  const form = document.getElementById('invite-form');
  const name = document.getElementById('invite-name');
  const hours = document.getElementById('invite-hours');
  const list = document.getElementById('invite-links');
  const made = [];

  async function make(e) {
    e.preventDefault();
    const who = name.value.trim();
    if (!who) { name.focus(); return; }
    let body;
    try {
      const res = await fetch('/api/invites', {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokenFromUrl()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ learners: [who], hours: Number(hours.value) }),
      });
      body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.message || `The server answered ${res.status}.`);
    } catch (err) {
      toast(`No link was made: ${err.message}`, 'error');
      return;
    }
    const link = body.links[0];
    made.unshift({ ...link, until: new Date(body.expires_at * 1000) });
    name.value = '';
    draw();
    list.querySelector('input')?.select();
  }

  async function copy(url, button) {
    try {
      await navigator.clipboard.writeText(url);
      button.textContent = 'Copied';
    } catch {
      // No clipboard permission: the link is selected for Ctrl+C instead.
      button.previousElementSibling?.select();
      button.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  }

  function draw() {
    render(list, made.map((l, i) => h('li', { class: 'invite-link', data: { name: l.name } },
      h('span', { class: 'invite-who' }, `${l.name} · until ${l.until.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })}`),
      h('input', { type: 'text', readonly: true, value: l.url, 'aria-label': `Link for ${l.name}`, id: i === 0 ? 'invite-latest' : null }),
      h('span', { class: 'invite-actions' },
        h('button', { type: 'button', class: 'small', on: { click: (e) => copy(l.url, e.currentTarget) } }, 'Copy'),
        h('button', { type: 'button', class: 'small', 'aria-expanded': String(!!l.qr), id: i === 0 ? 'invite-qr-toggle' : null, on: { click: () => { l.qr = !l.qr; draw(); } } }, 'QR code')),
      l.qr ? h('figure', { class: 'invite-qr', id: i === 0 ? 'invite-qr' : null }, qrSvg(l.url, { label: `QR code of the link for ${l.name}` }),
        h('figcaption', { class: 'hint' }, `${l.name} scans this with a phone camera to join.`)) : null)));
  }

  form.addEventListener('submit', make);
}
