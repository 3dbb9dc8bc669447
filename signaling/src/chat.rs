//! Text chat beside the floor: a message never takes a turn, never moves the queue and
//! never opens a microphone. It exists for links, spellings and "+1" that would
//! otherwise interrupt the speaker (F8 in the field study).
//!
//! A room keeps the latest [`KEPT`] messages for people who join late; each message
//! carries its author's name and colour as they were, so it still reads right after the
//! author left. Text is stored as sent (after trimming and dropping control characters):
//! the wire carries it as a JSON string and every client shows it as text, never markup.

use std::collections::VecDeque;

use crate::ids::{ChatId, ParticipantId};
use crate::views::ChatView;

/// Longest chat message, in characters (after trimming).
pub const MAX_CHAT_CHARS: usize = 1_000;
/// Messages a room keeps for late joiners (the latest ones).
pub const KEPT: usize = 200;

/// Why a chat message was refused. The room turns it into a [`crate::RoomError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRefusal {
    /// Nothing left after trimming.
    Empty,
    /// More than [`MAX_CHAT_CHARS`] characters (the count).
    TooLong(usize),
}

/// The text as kept: trimmed, control characters other than line breaks and tabs
/// dropped, and at most [`MAX_CHAT_CHARS`] characters; or why not.
pub fn clean(text: &str) -> Result<String, ChatRefusal> {
    let kept: String =
        text.trim().chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect();
    let kept = kept.trim();
    let n = kept.chars().count();
    if n == 0 {
        return Err(ChatRefusal::Empty);
    }
    if n > MAX_CHAT_CHARS {
        return Err(ChatRefusal::TooLong(n));
    }
    Ok(kept.to_owned())
}

/// A room's chat: the latest [`KEPT`] messages, oldest first.
#[derive(Debug, Default)]
pub struct ChatLog {
    next: u32,
    messages: VecDeque<ChatView>,
}

/// Who wrote a message, as they were at the time.
#[derive(Debug, Clone)]
pub struct Author<'a> {
    /// Their id.
    pub id: ParticipantId,
    /// Their display name.
    pub name: &'a str,
    /// Their colour.
    pub colour: &'a str,
}

impl ChatLog {
    /// Adds a message (already [`clean`]) at `at_ms` on the room clock and returns it;
    /// the oldest is forgotten beyond [`KEPT`].
    pub fn post(&mut self, author: Author<'_>, text: String, at_ms: u64) -> ChatView {
        self.next += 1;
        let msg = ChatView {
            id: ChatId(self.next),
            from: author.id,
            name: author.name.to_owned(),
            colour: author.colour.to_owned(),
            text,
            at_ms,
        };
        if self.messages.len() == KEPT {
            self.messages.pop_front();
        }
        self.messages.push_back(msg.clone());
        msg
    }

    /// Whether a message with this id is kept.
    pub fn contains(&self, id: ChatId) -> bool {
        self.messages.iter().any(|m| m.id == id)
    }

    /// Forgets a message; false when it is not kept.
    pub fn delete(&mut self, id: ChatId) -> bool {
        let before = self.messages.len();
        self.messages.retain(|m| m.id != id);
        self.messages.len() != before
    }

    /// The kept messages, oldest first.
    pub fn views(&self) -> Vec<ChatView> {
        self.messages.iter().cloned().collect()
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when no message is kept.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_trims_drops_controls_and_counts_characters() {
        assert_eq!(clean("  hi \u{7}there \n"), Ok("hi there".into()));
        assert_eq!(clean("a\nb\tc"), Ok("a\nb\tc".into()));
        assert_eq!(clean(" \u{0}\u{1b} "), Err(ChatRefusal::Empty));
        assert_eq!(clean(&"ä".repeat(MAX_CHAT_CHARS)).map(|s| s.chars().count()), Ok(1_000));
        assert_eq!(clean(&"ä".repeat(MAX_CHAT_CHARS + 1)), Err(ChatRefusal::TooLong(1_001)));
    }

    #[test]
    fn the_log_keeps_the_latest_and_forgets_deleted_ones() {
        let mut log = ChatLog::default();
        let me = || Author { id: ParticipantId(1), name: "Aino", colour: "#112233" };
        for i in 0..(KEPT + 5) {
            log.post(me(), format!("m{i}"), i as u64);
        }
        assert_eq!(log.len(), KEPT);
        let views = log.views();
        assert_eq!(views[0].text, "m5");
        assert_eq!(views[KEPT - 1].id, ChatId((KEPT + 5) as u32));
        assert!(!log.contains(ChatId(1)));
        assert!(log.delete(ChatId(10)));
        assert!(!log.delete(ChatId(10)));
        assert_eq!(log.len(), KEPT - 1);
    }
}
