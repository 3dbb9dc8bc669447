// Brief toasts and the ARIA live regions. Announcements go to screen readers; toasts
// are for everyone and vanish by themselves.

import { h } from '../dom.js';
import { icon } from '../icons.js';

const TOAST_MS = 4500;
const MAX_TOASTS = 4;

let polite;
let assertive;
let shelf;

export function initToasts() {
  polite = document.getElementById('live-polite');
  assertive = document.getElementById('live-assertive');
  shelf = document.getElementById('toasts');
}

/** Says `text` through a live region (`urgent` interrupts the screen reader). */
export function announce(text, urgent = false) {
  const region = urgent ? assertive : polite;
  if (!region || !text) return;
  // Re-setting the same text is not announced again: clear first, then set.
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 30);
}

/** Shows a toast and reads it out. `kind`: 'info' | 'warn' | 'error'. */
export function toast(text, kind = 'info', { ms = TOAST_MS, speak = true } = {}) {
  if (!shelf || !text) return;
  // The same words again while they still show (a rate limit hit several times, say)
  // keep the one toast longer instead of stacking copies.
  const same = [...shelf.children].find((t) => t.dataset.text === text && !t.classList.contains('leaving'));
  if (same) {
    clearTimeout(Number(same.dataset.timer));
    same.dataset.timer = String(setTimeout(() => leave(same), ms));
    return;
  }
  while (shelf.children.length >= MAX_TOASTS) shelf.firstElementChild.remove();
  const el = h('div', { class: `toast toast-${kind}` }, icon(kind === 'error' ? 'error' : kind === 'warn' ? 'attention' : 'info'), ' ', text);
  el.dataset.text = text;
  shelf.append(el);
  if (speak) announce(text, kind === 'error');
  el.dataset.timer = String(setTimeout(() => leave(el), ms));
}

function leave(el) {
  el.classList.add('leaving');
  setTimeout(() => el.remove(), 300);
}
