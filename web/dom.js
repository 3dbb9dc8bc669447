// Tiny DOM and formatting helpers shared by every view. No framework.

/**
 * Creates an element. `props`: `class`, `text`, `html` is not supported on purpose (names
 * come from tokens); `on` is an object of event handlers; `data` sets dataset entries;
 * `style` an object of CSS properties (custom properties allowed); anything else is set
 * as an attribute (`false`/`null` omit it, `true` sets it empty).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'data') Object.assign(el.dataset, v);
    else if (k === 'style') for (const [p, sv] of Object.entries(v)) el.style.setProperty(p, sv);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces a container's children, keeping keyboard focus on the element with the
 *  same `data-focus-key` if it had focus before (lists are re-rendered whole). */
export function render(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  container.replaceChildren();
  append(container, children);
  if (key) {
    const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** `m:ss` (or `h:mm:ss`) for a duration in ms; negative durations show as 0:00. */
export function fmtDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const hr = Math.floor(total / 3600);
  const ss = String(s).padStart(2, '0');
  return hr > 0 ? `${hr}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A spoken form for screen readers: "1 minute 5 seconds". */
export function sayDuration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (s || !m) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** Black or white, whichever reads better on the `#RRGGBB` background. */
export function inkOn(hex) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex || '');
  if (!m) return '#000';
  const n = parseInt(m[1], 16);
  const lin = (c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const L = 0.2126 * lin((n >> 16) & 255) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
  // Contrast with black is (L+0.05)/0.05, with white 1.05/(L+0.05).
  return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? '#111' : '#fff';
}

/** The round avatar with initials on the person's colour. */
export function avatar(p, size = '') {
  return h('span', {
    class: `avatar ${size}`.trim(),
    style: { '--c': p.colour, '--ink': inkOn(p.colour) },
    'aria-hidden': 'true',
  }, p.initials || '?');
}

/** Number of Unicode code points after trimming (the server's note rule). */
export const codePoints = (s) => [...(s || '').trim()].length;

/** True on a touch screen without a fine pointer (a phone, a tablet): the page offers
 *  buttons where a desk computer has keys. */
export function touchScreen() {
  return typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;
}
