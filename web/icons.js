// The page's icons, drawn here as inline SVG: they look the same on every machine (no
// emoji font needed) and follow the text colour. Each icon has exactly one meaning,
// written beside it in MEANINGS; a place that means something else gets its own icon
// (the test in tests/browser/unit.test.js holds the table to that).

const SVG = 'http://www.w3.org/2000/svg';

// Shapes on a 24 × 24 grid, stroked with the text colour. A dot is a zero-length line.
const dot = (x, y) => ['line', { x1: x, y1: y, x2: x + 0.01, y2: y }];
const micBody = [['rect', { x: 9, y: 3, width: 6, height: 11, rx: 3 }], ['path', { d: 'M5 11a7 7 0 0 0 14 0M12 18v3M9 21h6' }]];
const speakerBody = ['path', { d: 'M4 9h4l5-4v14l-5-4H4z' }];

const SHAPES = {
  mic: micBody,
  'mic-off': [...micBody, ['path', { d: 'M4 3l16 18' }]],
  'mic-blocked': [['circle', { cx: 12, cy: 12, r: 9.5 }], ['path', { d: 'M5.3 5.3l13.4 13.4' }], ['rect', { x: 10, y: 6, width: 4, height: 7, rx: 2 }], ['path', { d: 'M8 11a4 4 0 0 0 8 0M12 15v2.5' }]],
  headphones: [['path', { d: 'M4 15v-3a8 8 0 0 1 16 0v3' }], ['rect', { x: 3, y: 14, width: 4, height: 6, rx: 1.5 }], ['rect', { x: 17, y: 14, width: 4, height: 6, rx: 1.5 }]],
  'ear-off': [['path', { d: 'M7 9a5 5 0 0 1 10 0c0 3-3 4-3 7a3 3 0 0 1-5.5 1.5' }], ['path', { d: 'M10 9a2 2 0 0 1 4 0' }], ['path', { d: 'M3 3l18 18' }]],
  speaking: [speakerBody, ['path', { d: 'M16 9a4 4 0 0 1 0 6M18.5 6.5a7.5 7.5 0 0 1 0 11' }]],
  'no-audio': [speakerBody, ['path', { d: 'M16 9.5l5 5M21 9.5l-5 5' }]],
  play: [['path', { d: 'M7 4l13 8-13 8z' }]],
  'thumbs-up': [['path', { d: 'M7 11H4v9h3zM7 11l4-8c1.5 0 2.5 1 2.3 2.5L12.6 10H19a2 2 0 0 1 2 2.3l-1.3 6A2 2 0 0 1 17.7 20H7' }]],
  'thumbs-down': [['path', { d: 'M7 13H4V4h3zM7 13l4 8c1.5 0 2.5-1 2.3-2.5L12.6 14H19a2 2 0 0 0 2-2.3l-1.3-6A2 2 0 0 0 17.7 4H7' }]],
  question: [['path', { d: 'M4 4h16v12H10l-6 4z' }], ['path', { d: 'M9.8 8.2a2.3 2.3 0 1 1 3.2 2.1c-.6.3-1 .8-1 1.4' }], dot(12, 13.8)],
  applause: [['path', { d: 'M12 3l2.3 5.2 5.7.6-4.3 3.8 1.3 5.6L12 15.3l-5 2.9 1.3-5.6L4 8.8l5.7-.6z' }]],
  slower: [['path', { d: 'M3.5 17a8.5 8.5 0 1 1 17 0' }], ['path', { d: 'M12 17L7.5 12.5' }], ['circle', { cx: 12, cy: 17, r: 1.2 }]],
  hand: [['path', { d: 'M8 13V6a1.5 1.5 0 0 1 3 0v5M11 10V4.5a1.5 1.5 0 0 1 3 0V10M14 10V6a1.5 1.5 0 0 1 3 0v5M17 10a1.5 1.5 0 0 1 3 0v4a7 7 0 0 1-7 7h-1.5a6 6 0 0 1-5-2.7l-2.7-4.2a1.5 1.5 0 0 1 2.5-1.6L8 13' }]],
  reply: [['path', { d: 'M9 14L4 9l5-5' }], ['path', { d: 'M4 9h10a6 6 0 0 1 6 6v4' }]],
  stick: [['path', { d: 'M5 19L15.5 8.5' }], ['circle', { cx: 17.5, cy: 6.5, r: 3 }], ['path', { d: 'M3.5 20.5l1.5-1.5' }]],
  offered: [['path', { d: 'M7 3h10M7 21h10M8 3v3.5l4 5.5 4-5.5V3M8 21v-3.5l4-5.5 4 5.5V21' }]],
  away: [['path', { d: 'M4 10h12v5a5 5 0 0 1-5 5H9a5 5 0 0 1-5-5z' }], ['path', { d: 'M16 12h1.5a2.5 2.5 0 0 1 0 5H16M8 3.5v3M12 3.5v3' }]],
  present: [['circle', { cx: 12, cy: 8, r: 4 }], ['path', { d: 'M4 21a8 8 0 0 1 16 0' }]],
  'asks-unmute': [['path', { d: 'M6 16v-5a6 6 0 0 1 12 0v5l2 2H4z' }], ['path', { d: 'M10 21h4' }]],
  offline: [['path', { d: 'M2 8.5a15 15 0 0 1 20 0M5 12a10 10 0 0 1 14 0M8.5 15.5a5 5 0 0 1 7 0' }], dot(12, 19), ['path', { d: 'M3 3l18 18' }]],
  ptt: [['rect', { x: 3, y: 13, width: 18, height: 7, rx: 2 }], ['path', { d: 'M12 3v7M9 7l3 3 3-3' }]],
  help: [['circle', { cx: 12, cy: 12, r: 9 }], ['circle', { cx: 12, cy: 12, r: 4 }], ['path', { d: 'M5.6 5.6l3.6 3.6M14.8 14.8l3.6 3.6M18.4 5.6l-3.6 3.6M9.2 14.8l-3.6 3.6' }]],
  discussion: [['path', { d: 'M3 4h11v8H7l-4 3z' }], ['path', { d: 'M17 8h4v9l-3-2h-7v-3' }]],
  paused: [['path', { d: 'M9 6v12M15 6v12' }]],
  'floor-open': [['circle', { cx: 12, cy: 12, r: 7 }]],
  moderated: [['path', { d: 'M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z' }]],
  error: [['path', { d: 'M12 3l10 18H2z' }], ['path', { d: 'M12 10v4.5' }], dot(12, 17.5)],
  attention: [['circle', { cx: 12, cy: 12, r: 9.5 }], ['path', { d: 'M12 7v6' }], dot(12, 16.5)],
  info: [['circle', { cx: 12, cy: 12, r: 9.5 }], ['path', { d: 'M12 11v6' }], dot(12, 7.5)],
  download: [['path', { d: 'M12 4v11M7 10l5 5 5-5M5 20h14' }]],
  close: [['path', { d: 'M6 6l12 12M18 6L6 18' }]],
  remove: [['path', { d: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13' }]],
  up: [['path', { d: 'M6 15l6-6 6 6' }]],
  down: [['path', { d: 'M6 9l6 6 6-6' }]],
};

/** What each icon means: one meaning per icon. */
export const MEANINGS = {
  mic: 'microphone on',
  'mic-off': 'microphone off',
  'mic-blocked': 'muted by a facilitator',
  headphones: 'listening only / speakers',
  'ear-off': "can't hear the speaker",
  speaking: 'speaking now',
  'no-audio': 'no audio connection',
  play: 'play a sound',
  'thumbs-up': 'agree',
  'thumbs-down': 'disagree',
  question: 'a question',
  applause: 'applause',
  slower: 'slower, please',
  hand: 'a new point (raised hand)',
  reply: 'a reply to the speaker',
  stick: 'the floor',
  offered: 'the floor is offered',
  away: 'away from the desk',
  present: 'at the desk',
  'asks-unmute': 'asks to be unmuted',
  offline: 'connection lost',
  ptt: 'push-to-talk',
  help: 'help',
  discussion: 'open discussion',
  paused: 'the speaker paused',
  'floor-open': 'the floor is open',
  moderated: 'moderated mode',
  error: 'something went wrong',
  attention: 'take note',
  info: 'for your information',
  download: 'download',
  close: 'close',
  remove: 'remove',
  up: 'move up',
  down: 'move down',
};

export const ICON_NAMES = Object.keys(SHAPES);

const drawn = new Map();

/** An inline SVG icon, hidden from screen readers (the words beside it say it). Each is
 *  drawn once and copied after that (a plenary's list uses hundreds). */
export function icon(name, cls = '') {
  let svg = drawn.get(name);
  if (!svg) {
    const shapes = SHAPES[name];
    if (!shapes) throw new Error(`no icon ${name}`);
    svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.dataset.icon = name;
    for (const [tag, attrs] of shapes) {
      const el = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
      svg.append(el);
    }
    drawn.set(name, svg);
  }
  const copy = svg.cloneNode(true);
  copy.setAttribute('class', cls ? `icon ${cls}` : 'icon');
  return copy;
}
