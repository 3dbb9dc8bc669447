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

/**
 * Draws a list whose items are mostly unchanged between updates: an item whose `sig`
 * (a string of everything its element shows) is the same as last time keeps its element;
 * only changed items are built again, and the container is touched only when its
 * elements or their order changed; `update(el, item)` sets what changes often and cheaply
 * (a place number) on every element as it is. A plenary's forty lines stay within a frame.
 */
export function keyedRender(container, items, { key, sig, build, update }) {
  const cache = container._keyed || (container._keyed = new Map());
  const next = new Map();
  const els = items.map((item) => {
    const k = key(item);
    const s = sig(item);
    const old = cache.get(k);
    const el = old && old.sig === s ? old.el : build(item);
    // What changes often and cheaply (a place number) is set on the element as it is.
    update?.(el, item);
    next.set(k, { sig: s, el });
    return el;
  });
  container._keyed = next;
  patch(container, els);
}

/** Makes `container`'s children exactly `els`, moving or replacing only what differs
 *  (keyboard focus kept as `render` keeps it). */
function patch(container, els) {
  const active = document.activeElement;
  const focusKey = active && container.contains(active) ? active.dataset.focusKey : undefined;
  const keep = new Set(els);
  for (const child of [...container.children]) if (!keep.has(child)) child.remove();
  els.forEach((el, i) => {
    const at = container.children[i];
    if (at !== el) container.insertBefore(el, at ?? null);
  });
  if (focusKey && !container.contains(document.activeElement)) {
    const again = container.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  }
}

/** How long each frame's drawing took (ms, the latest 500): see `onFrame`. */
export const frameTimes = [];
const pending = new Set();
let scheduled = false;

/**
 * A draw function that runs at most once per frame, however many updates ask for it in
 * between: a burst of forty people's changes is drawn once. The time each frame's drawing
 * takes is kept in `frameTimes`.
 */
export function onFrame(draw) {
  return () => {
    pending.add(draw);
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  };
}

function flush() {
  scheduled = false;
  const t0 = performance.now();
  const draws = [...pending];
  pending.clear();
  for (const draw of draws) {
    try { draw(); } catch (e) { console.error('drawing failed:', e); }
  }
  frameTimes.push(performance.now() - t0);
  if (frameTimes.length > 500) frameTimes.shift();
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

/** Offers `text` as a file download named `name`. */
export function saveFile(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
