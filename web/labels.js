// Words, icons (names from icons.js) and keys shown to people. One place, so views and
// help agree.

export const REACTIONS = [
  { kind: 'agree', icon: 'thumbs-up', label: 'Agree', key: '1' },
  { kind: 'disagree', icon: 'thumbs-down', label: 'Disagree', key: '2' },
  { kind: 'question', icon: 'question', label: 'Question', key: '3' },
  { kind: 'applause', icon: 'applause', label: 'Applause', key: '4' },
  { kind: 'slower', icon: 'slower', label: 'Slower, please', key: '5' },
  { kind: 'cant_hear', icon: 'ear-off', label: "Can't hear", key: '6' },
];
export const reactionByKind = Object.fromEntries(REACTIONS.map((r) => [r.kind, r]));

export const HAND_KINDS = {
  reply: { icon: 'reply', label: 'Reply', long: 'Reply to the speaker' },
  new_point: { icon: 'hand', label: 'New point', long: 'New point' },
};

export const ROLE_LABEL = { facilitator: 'Facilitator', learner: 'Learner' };

/** Plain-language text for server error codes; `null` means "use the server's words". */
const ERRORS = {
  bad_token: "This link isn't valid for this server — ask your facilitator for a new one.",
  token_expired: 'This link has expired — ask your facilitator for a new one.',
  unsupported_version: 'This page is out of date. Reload it to get the current version.',
  room_full: 'The room is full right now. Try again in a moment, or ask your facilitator.',
  forbidden: 'Only a facilitator can do that.',
  hand_already_raised: 'Your hand is already raised.',
  no_hand: 'There is no raised hand to change.',
  note_too_long: 'Your note is too long — keep it to 280 characters.',
  already_holding_floor: 'You already have the floor.',
  not_holder: "You don't have the floor right now.",
  no_offer: 'The floor is no longer being offered to you.',
  floor_busy: 'Someone has the floor. Take it back (revoke) or use Next first.',
  floor_free: 'Nobody has the floor.',
  queue_empty: 'No hands are raised.',
  invalid_position: "That hand can't move there.",
  force_muted: 'A facilitator muted you. Ask them to unmute you.',
  not_muted: 'Nobody has muted you.',
  empty_message: 'Write something before sending.',
  message_too_long: 'Your message is too long — keep it to 1,000 characters.',
  unknown_message: 'That message is already gone.',
  internal: 'Something went wrong on the server. Try again.',
  breakouts_open: 'Breakout groups are already open. Call everyone back first.',
  no_breakouts: 'No breakout groups are open.',
  unknown_group: 'That group is closed or does not exist.',
  not_in_group: 'That person is in no breakout group.',
  groups_placed: 'In this round a facilitator places people: ask one to move you.',
};

export function errorText(code, message) {
  if (code === 'rate_limited') {
    // The server says what there were too many of ("too many reactions; try again…").
    const what = /^too many [^;]+/.exec(message || '')?.[0] ?? 'too many at once';
    return `Slow down a little — ${what}.`;
  }
  if (code === 'invalid_breakouts') return `The groups were not opened: ${(message || '').replace(/^cannot open breakout groups: /, '')}`;
  if (code === 'invalid_setting') return `That setting was refused: ${message.replace(/^invalid setting /, '')}`;
  return ERRORS[code] || message || 'That did not work.';
}
