//! The terminal view: a pure drawing of the room ([`RoomModel`]), the keys' state
//! ([`Ui`]) and the sound ([`Status`]) into a ratatui frame.
//!
//! The floor holder is always in the same place, at the top, with the turn's clock and
//! its reactions; below it the queue (positions, hand kinds, your own note) and the
//! people (identity colours, who speaks, mics); then the messages; then your own state
//! and the keys.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use talkstick_signaling::protocol::{FloorState, HandKind, Presence, Role};

use super::keys::{KEYS, Ui};
use super::model::RoomModel;

/// The connection as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Joined and connected.
    Connected,
    /// Lost; trying again (the attempt number).
    Reconnecting(u32),
}

/// The sound's state for the status line.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Reconnecting or connected (`None`: connected).
    pub connection: Option<Connection>,
    /// The audio connection is up.
    pub audio: bool,
    /// The microphone's level in -dBov (127 silence).
    pub mic_level: i8,
    /// The jitter buffer's delay, in ms.
    pub delay_ms: u64,
    /// Frames concealed so far.
    pub concealed: u64,
    /// The input and output, as words ("default device", "file speech.wav").
    pub devices: String,
    /// In a breakout group: which, and the time left.
    pub breakout: Option<String>,
}

/// `#RRGGBB` as a terminal colour (grey if unreadable).
fn colour(hex: &str) -> Color {
    let h = hex.trim_start_matches('#');
    let byte = |i: usize| h.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok());
    match (byte(0), byte(2), byte(4)) {
        (Some(r), Some(g), Some(b)) => Color::Rgb(r, g, b),
        _ => Color::Gray,
    }
}

/// `m:ss` for milliseconds.
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// Draws everything.
pub fn draw(frame: &mut Frame<'_>, room: &RoomModel, ui: &Ui, status: &Status, now: Instant) {
    let [floor, middle, messages, you, keys] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(5),
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    draw_floor(frame, floor, room, status.breakout.as_deref(), now);
    let [queue, people] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(middle);
    draw_queue(frame, queue, room, ui);
    draw_people(frame, people, room);
    let lines: Vec<Line<'_>> = room.lines.iter().map(|l| Line::from(l.as_str())).collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::new().borders(Borders::TOP).title("Messages")),
        messages,
    );
    frame.render_widget(Paragraph::new(your_line(room, ui, status, now)), you);
    frame.render_widget(Paragraph::new(help_line(room, ui)).wrap(Wrap { trim: true }), keys);
    if ui.help {
        draw_help(frame, room);
    }
}

fn draw_floor(
    frame: &mut Frame<'_>,
    area: Rect,
    room: &RoomModel,
    breakout: Option<&str>,
    now: Instant,
) {
    let f = &room.floor;
    let room_now = room.room_ms(now);
    let name = |id| {
        let p = room.participants.iter().find(|p| Some(p.id) == id);
        let you = id == Some(room.you.id);
        let text = match (p, you) {
            (_, true) => "You".to_owned(),
            (Some(p), _) => p.name.clone(),
            (None, _) => "Someone".to_owned(),
        };
        let style = Style::new().add_modifier(Modifier::BOLD);
        Span::styled(text, p.map_or(style, |p| style.fg(colour(&p.colour))))
    };
    let mut first = match f.state {
        FloorState::Held => {
            let mut l = vec![
                name(f.holder),
                Span::raw(if f.holder == Some(room.you.id) {
                    " have the floor"
                } else {
                    " has the floor"
                }),
            ];
            l.push(Span::raw(format!(" · {}", clock(room_now.saturating_sub(f.since_ms)))));
            if let Some(end) = f.ends_ms {
                l.push(Span::raw(format!(" · {} left", clock(end.saturating_sub(room_now)))));
            }
            if f.open {
                l.push(Span::styled(" · paused: floor open", Style::new().fg(Color::Yellow)));
            }
            l
        }
        FloorState::Offered => {
            let left = room.offer_until.map_or(0, |t| t.saturating_duration_since(now).as_secs());
            if room.offered_to_me() {
                vec![Span::styled(
                    format!("You're up! A to take the floor, Esc for later · {left} s"),
                    Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD),
                )]
            } else {
                vec![name(f.offered_to), Span::raw(" is up next")]
            }
        }
        FloorState::Discussion => vec![Span::styled(
            format!("Open discussion · {}", clock(room_now.saturating_sub(f.since_ms))),
            Style::new().add_modifier(Modifier::BOLD),
        )],
        FloorState::Free => vec![Span::raw("The floor is free")],
    };
    first.insert(0, Span::raw("Floor: "));
    let t = &f.tally;
    let tally = Line::from(format!(
        "Reactions: agree {} · disagree {} · question {} · applause {} · slower {} · can't hear {}",
        t.agree, t.disagree, t.question, t.applause, t.slower, t.cant_hear
    ));
    let title = match breakout {
        Some(b) => format!(" Talkstick · {b} "),
        None => format!(" Talkstick · {} ", room.room),
    };
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), tally]).block(Block::bordered().title(title)),
        area,
    );
}

fn draw_queue(frame: &mut Frame<'_>, area: Rect, room: &RoomModel, ui: &Ui) {
    let mut lines = Vec::new();
    for h in &room.queue {
        let p = room.participants.iter().find(|p| p.id == h.participant);
        let who = p.map_or("someone", |p| p.name.as_str());
        let mine = h.participant == room.you.id;
        let kind = match h.kind {
            HandKind::Reply => "reply",
            HandKind::NewPoint => "new point",
        };
        let style = p.map_or(Style::new(), |p| Style::new().fg(colour(&p.colour)));
        let mut l = vec![
            Span::raw(format!("{:>2}. ", h.position)),
            Span::styled(if mine { format!("{who} (you)") } else { who.to_owned() }, style),
            Span::raw(format!(" · {kind}")),
        ];
        if let Some(note) = room.note_of(h) {
            l.push(Span::styled(
                format!(" · “{note}”"),
                Style::new().add_modifier(Modifier::ITALIC),
            ));
        }
        lines.push(Line::from(l));
    }
    if lines.is_empty() {
        lines.push(Line::from("Nobody is waiting."));
    }
    if let Some(note) = &ui.note {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("Your note: ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!("{note}▏")),
        ]));
        lines.push(Line::from("Enter raises a new point, Tab a reply, Esc drops it"));
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Queue ")), area);
}

fn draw_people(frame: &mut Frame<'_>, area: Rect, room: &RoomModel) {
    let lines: Vec<Line<'_>> = room
        .participants
        .iter()
        .map(|p| {
            let mut l = vec![
                Span::styled(if p.speaking { "◉ " } else { "  " }, Style::new().fg(Color::Green)),
                Span::styled(
                    p.name.clone(),
                    Style::new().fg(colour(&p.colour)).add_modifier(Modifier::BOLD),
                ),
            ];
            if p.id == room.you.id {
                l.push(Span::raw(" (you)"));
            }
            let mut tags = Vec::new();
            if p.role == Role::Facilitator {
                tags.push("facilitator");
            }
            if p.force_muted {
                tags.push("muted");
            } else if !p.mic_on {
                tags.push("mic off");
            }
            if p.presence == Presence::Away {
                tags.push("away");
            }
            if !p.connected {
                tags.push("reconnecting");
            }
            if p.listening {
                tags.push("listening in");
            }
            if !tags.is_empty() {
                l.push(Span::styled(
                    format!(" · {}", tags.join(", ")),
                    Style::new().fg(Color::Gray),
                ));
            }
            Line::from(l)
        })
        .collect();
    let title = format!(" People ({}) ", room.participants.len());
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
}

fn your_line<'a>(room: &RoomModel, ui: &Ui, status: &Status, now: Instant) -> Line<'a> {
    let mut l = Vec::new();
    if let Some(Connection::Reconnecting(n)) = &status.connection {
        l.push(Span::styled(
            format!("Connection lost — reconnecting (attempt {n}) · "),
            Style::new().fg(Color::Black).bg(Color::Red),
        ));
    }
    let forced = room.me().is_some_and(|p| p.force_muted);
    let mic = if forced {
        Span::styled("Muted by a facilitator", Style::new().fg(Color::Red))
    } else if !ui.mic_on {
        Span::styled("Mic off", Style::new().fg(Color::Red))
    } else if ui.push_to_talk && !ui.transmitting(now) {
        Span::raw("Push-to-talk: hold Space")
    } else if !room.may_speak() {
        Span::raw("Mic on · heard when you have the floor")
    } else {
        Span::styled("Mic on · you are heard", Style::new().fg(Color::Green))
    };
    l.push(mic);
    let meter = (127 - i32::from(status.mic_level.clamp(0, 127))).clamp(0, 60) / 12;
    l.push(Span::raw(format!(" {}", "▮".repeat(meter as usize))));
    l.push(Span::raw(format!(
        " · audio {} · delay {} ms · {}",
        if status.audio { "connected" } else { "connecting" },
        status.delay_ms,
        status.devices
    )));
    Line::from(l)
}

fn help_line<'a>(room: &RoomModel, ui: &Ui) -> Line<'a> {
    if ui.confirm_leave {
        return Line::styled(
            "Press Q again to leave the room; any other key stays.",
            Style::new().add_modifier(Modifier::BOLD),
        );
    }
    let text = KEYS
        .iter()
        .filter(|(_, _, _, fac)| !fac || room.is_facilitator())
        .map(|(k, short, _, _)| format!("{k} {short}"))
        .collect::<Vec<_>>()
        .join(" · ");
    Line::styled(text, Style::new().fg(Color::Gray))
}

fn draw_help(frame: &mut Frame<'_>, room: &RoomModel) {
    let lines: Vec<Line<'_>> = KEYS
        .iter()
        .filter(|(_, _, _, fac)| !fac || room.is_facilitator())
        .map(|(k, _, what, _)| {
            Line::from(vec![
                Span::styled(format!("{k:>8}  "), Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(*what),
            ])
        })
        .collect();
    let area = frame.area();
    let w = area.width.min(70);
    let h = area.height.min(lines.len() as u16 + 2);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys (Esc closes) ")),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use talkstick_signaling::protocol::HandView;

    fn screen(room: &RoomModel, ui: &Ui, status: &Status, now: Instant) -> String {
        let mut t = Terminal::new(TestBackend::new(100, 24)).unwrap();
        t.draw(|f| draw(f, room, ui, status, now)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_owned()).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn shows_the_floor_queue_people_and_keys() {
        let now = Instant::now();
        let mut room = super::super::model::tests_support::room();
        let other = room.participants[1].id;
        room.floor.state = FloorState::Held;
        room.floor.holder = Some(other);
        room.floor.since_ms = 0;
        room.floor.tally.agree = 2;
        room.queue.push(HandView {
            participant: room.you.id,
            position: 1,
            kind: HandKind::Reply,
            raised_ms: 0,
            note: Some("costs".into()),
        });
        room.participants[1].speaking = true;
        let s = screen(&room, &Ui::default(), &Status::default(), now);
        assert!(s.contains("Floor: Bertil has the floor · 0:01"), "{s}");
        assert!(s.contains("agree 2"), "{s}");
        assert!(s.contains(" 1. Aino (you) · reply · “costs”"), "{s}");
        assert!(s.contains("◉ Bertil · facilitator"), "{s}");
        assert!(s.contains("H point · R reply · E note"), "{s}");
        let in_group =
            Status { breakout: Some("Group 2: Pricing · 12:30 left".into()), ..Status::default() };
        let s = screen(&room, &Ui::default(), &in_group, now);
        assert!(
            s.contains("Talkstick · Group 2: Pricing · 12:30 left"),
            "the group in the title: {s}"
        );
        assert!(!s.contains("G grant"), "no facilitator keys for a learner: {s}");
    }

    #[test]
    fn an_offer_to_you_stands_out_and_help_lists_every_key() {
        let now = Instant::now();
        let mut room = super::super::model::tests_support::room();
        room.floor.state = FloorState::Offered;
        room.floor.offered_to = Some(room.you.id);
        room.offer_until = Some(now + std::time::Duration::from_millis(12_500));
        let status = Status { connection: Some(Connection::Reconnecting(2)), ..Status::default() };
        let s = screen(&room, &Ui::default(), &status, now);
        assert!(s.contains("You're up! A to take the floor, Esc for later · 12 s"), "{s}");
        assert!(s.contains("reconnecting (attempt 2)"), "{s}");
        let ui = Ui { help: true, ..Ui::default() };
        let s = screen(&room, &ui, &status, now);
        for (k, _, _, fac) in KEYS {
            if !fac {
                assert!(s.contains(&format!("{k:>8}  ")), "help lists {k}: {s}");
            }
        }
    }
}
