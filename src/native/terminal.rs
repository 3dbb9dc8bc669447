//! The real terminal: raw mode and the alternate screen while the view is up (restored
//! on the way out, a panic included), and the keys read on a thread of their own.

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{execute, terminal};
use tokio::sync::mpsc;

use super::keys::{Key, Ui};
use super::model::RoomModel;
use super::view::{self, Status};

/// The terminal while the view is up; dropping it gives the terminal back.
pub struct Terminal {
    inner: ratatui::DefaultTerminal,
    enhanced: bool,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terminal")
    }
}

impl Terminal {
    /// Takes over the terminal. Where it can report key releases, asks it to (so that
    /// push-to-talk ends the moment Space is let go).
    pub fn start() -> std::io::Result<Terminal> {
        let inner = ratatui::try_init()?;
        let enhanced = terminal::supports_keyboard_enhancement().unwrap_or(false)
            && execute!(
                std::io::stdout(),
                event::PushKeyboardEnhancementFlags(
                    event::KeyboardEnhancementFlags::REPORT_EVENT_TYPES
                )
            )
            .is_ok();
        Ok(Terminal { inner, enhanced })
    }

    /// Draws the view.
    pub fn draw(
        &mut self,
        room: &RoomModel,
        ui: &Ui,
        status: &Status,
        now: Instant,
    ) -> std::io::Result<()> {
        self.inner.draw(|f| view::draw(f, room, ui, status, now))?;
        Ok(())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.enhanced {
            let _ = execute!(std::io::stdout(), event::PopKeyboardEnhancementFlags);
        }
        ratatui::restore();
    }
}

/// Reads keys on a thread of its own until the returned sender is dropped.
pub fn keys() -> (mpsc::Sender<Key>, mpsc::Receiver<Key>) {
    let (tx, rx) = mpsc::channel(64);
    let thread_tx = tx.clone();
    std::thread::spawn(move || {
        while !thread_tx.is_closed() {
            match event::poll(Duration::from_millis(100)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            let Ok(Event::Key(k)) = event::read() else { continue };
            let key = match (k.code, k.kind) {
                (KeyCode::Char(' '), KeyEventKind::Release) => Key::SpaceUp,
                (_, KeyEventKind::Release) => continue,
                (KeyCode::Char('c'), _) if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    Key::Interrupt
                }
                (KeyCode::Char(c), _) => Key::Char(c),
                (KeyCode::Enter, _) => Key::Enter,
                (KeyCode::Tab, _) => Key::Tab,
                (KeyCode::Esc, _) => Key::Esc,
                (KeyCode::Backspace, _) => Key::Backspace,
                _ => continue,
            };
            if thread_tx.blocking_send(key).is_err() {
                break;
            }
        }
    });
    (tx, rx)
}
