// The room's text chat: never takes the floor. Messages are coloured by their author
// (a bar and a dot in the person's colour), links are clickable, and text is only ever
// set as text (never as HTML), so a message cannot inject markup or script. The unread
// count shows while new messages arrive out of sight (log scrolled up, or the page in
// the background). Facilitators delete a message with a click asked twice.

import { h, codePoints, inkOn, keyedRender, onFrame } from '../dom.js';

export const CHAT_MAX = 1000;
/** What a link looks like in a message: http or https only. */
const LINK = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/g;

/** A message's text as nodes: plain text, with http(s) links as anchors. */
export function linkified(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow' }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function chatView(store, actions) {
  const log = document.getElementById('chat-log');
  const unreadBadge = document.getElementById('chat-unread');
  const form = document.getElementById('chat-form');
  const input = document.getElementById('chat-input');
  const count = document.getElementById('chat-count');
  let unread = 0;
  let seen = new Set();
  let first = true;

  // Whether the log shows its newest message: read when the reader scrolls, never while
  // drawing (reading the layout then would cost a forced layout of the whole page).
  let pinned = true;
  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  const inSight = () => document.visibilityState === 'visible' && pinned;
  /** Shows the newest message, at the start of the next frame (the layout is clean then). */
  const toBottom = () => requestAnimationFrame(() => { log.scrollTop = log.scrollHeight; pinned = true; });

  function showUnread() {
    unreadBadge.hidden = unread === 0;
    unreadBadge.textContent = unread === 0 ? '' : `${unread} new`;
    unreadBadge.setAttribute('aria-label', `${unread} unread message${unread === 1 ? '' : 's'}`);
  }

  const hhmm = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });
  function clock(ms) {
    return hhmm.format(new Date(Date.now() - (store.roomNow() - ms)));
  }

  function item(m) {
    const mine = m.from === store.me?.id;
    const del = store.isFacilitator ? h('button', {
      type: 'button', class: `small link-button${actions.confirming(`chat-del-${m.id}`) ? ' confirming' : ''}`,
      'data-focus-key': `chat-del-${m.id}`, 'aria-label': `Delete ${m.name}'s message`,
      on: { click: (e) => actions.deleteChat(e.currentTarget, m) },
    }, actions.confirming(`chat-del-${m.id}`) ?? 'Delete') : null;
    return h('li', { class: `chat-msg${mine ? ' mine' : ''}`, style: { '--c': m.colour, '--ink': inkOn(m.colour) }, data: { id: m.id } },
      h('div', { class: 'chat-meta' },
        h('span', { class: 'chat-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'chat-name' }, mine ? `${m.name} (you)` : m.name),
        h('time', { class: 'chat-time' }, clock(m.at_ms)),
        del),
      h('p', { class: 'chat-text' }, linkified(m.text)));
  }

  // New messages are counted at once; the log is drawn once a frame, each message's
  // element kept while it is unchanged.
  let stick = true;
  const drawLog = onFrame(() => {
    keyedRender(log, store.chat, {
      key: (m) => m.id,
      sig: (m) => `${store.isFacilitator}/${actions.confirming(`chat-del-${m.id}`) ?? ''}`,
      build: item,
    });
    if (stick) toBottom();
    stick = false;
  });

  function draw({ added = [] } = {}) {
    stick = stick || first || pinned;
    drawLog();
    document.getElementById('chat-empty').hidden = store.chat.length > 0;
    const fresh = added.filter((m) => !seen.has(m.id) && m.from !== store.me?.id);
    for (const m of store.chat) seen.add(m.id);
    if (fresh.length && !first && !inSight()) unread += fresh.length;
    first = false;
    showUnread();
  }

  function readAll() {
    if (unread && inSight()) { unread = 0; showUnread(); }
  }

  log.addEventListener('scroll', () => { pinned = atBottom(); readAll(); });
  document.addEventListener('visibilitychange', readAll);
  unreadBadge.addEventListener('click', () => { log.scrollTop = log.scrollHeight; pinned = true; readAll(); });

  input.addEventListener('input', () => {
    const n = codePoints(input.value);
    count.textContent = n > CHAT_MAX * 0.8 ? `${n}/${CHAT_MAX}` : '';
    count.classList.toggle('over', n > CHAT_MAX);
    input.setAttribute('aria-invalid', String(n > CHAT_MAX));
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    if (e.key === 'Escape') { e.stopPropagation(); input.blur(); }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = codePoints(input.value);
    if (n === 0) return;
    if (n > CHAT_MAX) { actions.problem(`Your message has ${n} characters; keep it to ${CHAT_MAX}.`); return; }
    if (actions.chat(input.value.trim())) {
      input.value = '';
      input.dispatchEvent(new Event('input'));
      toBottom();
    }
  });

  store.on('chat', draw);
  store.on('joined', () => draw());
  return {
    focus() { input.focus(); },
    get unread() { return unread; },
  };
}
