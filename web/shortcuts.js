// Keyboard shortcuts: one registry that drives both the key handling and the help
// panel, so the list people read is the list that works.

const registry = [];

// Single-character shortcuts can be turned off (WCAG 2.1.4: speech input and stray key
// presses must not set off actions), remembered per browser.
const PREF = 'talkstick.singleKeyShortcuts';
let singleKeys = (() => {
  try { return localStorage.getItem(PREF) !== 'off'; } catch { return true; }
})();

/** Whether single-character shortcuts (H, 1, ?) work. Esc and push-to-talk always do. */
export function singleKeyShortcuts() { return singleKeys; }

/** Turns single-character shortcuts on or off, for this browser. */
export function setSingleKeyShortcuts(on) {
  singleKeys = !!on;
  try { localStorage.setItem(PREF, singleKeys ? 'on' : 'off'); } catch { /* private mode: this page only */ }
}

/**
 * Adds a shortcut. `key`: a single character as typed (`h`, `1`, `?`) or a key name
 * (`Escape`); letters match either case unless `shift` is given. `when()` gates it
 * (e.g. facilitator only); `group` and `label` feed the help panel.
 */
export function registerShortcut({ key, shift = false, label, group = 'General', run, when = () => true }) {
  registry.push({ key, shift, label, group, run, when });
}

/** The shortcuts currently available, for the help panel. */
export function activeShortcuts() {
  return registry.filter((s) => s.when());
}

export function keyLabel(s) {
  const k = s.key === ' ' ? 'Space' : s.key === 'Escape' ? 'Esc' : s.key.length === 1 ? s.key.toUpperCase() : s.key;
  return s.shift ? `Shift+${k}` : k;
}

function typing(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  return !['checkbox', 'radio', 'button', 'submit', 'range', 'reset'].includes(target.type);
}

function matches(s, e) {
  if (s.key.length === 1 && /[a-z]/i.test(s.key)) {
    return e.key.toLowerCase() === s.key.toLowerCase() && e.shiftKey === s.shift;
  }
  return e.key === s.key;
}

/**
 * Listens on the document. `ptt` = {active(), down(), up()} handles holding Space to
 * talk; `blocked()` is true while a modal (help) is open.
 */
export function installShortcuts({ ptt, blocked = () => false }) {
  let spaceHeld = false;
  const release = () => {
    if (spaceHeld) { spaceHeld = false; ptt.up(); }
  };
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typing(e.target)) {
      if (e.key === 'Escape') e.target.blur();
      return;
    }
    if (e.key === ' ' && ptt.active() && !blocked()) {
      e.preventDefault(); // Space talks instead of pressing the focused button
      if (!e.repeat && !spaceHeld) { spaceHeld = true; ptt.down(); }
      return;
    }
    const s = registry.find((x) => matches(x, e) && x.when());
    if (!s) return;
    if (!singleKeys && s.key.length === 1) return;
    if (blocked() && s.key !== '?' && s.key !== 'Escape') return;
    e.preventDefault();
    s.run(e);
  });
  document.addEventListener('keyup', (e) => {
    if (e.key === ' ' && spaceHeld) { e.preventDefault(); release(); }
  });
  window.addEventListener('blur', release);
  document.addEventListener('visibilitychange', () => { if (document.hidden) release(); });
}
