//! Following the breakout groups: while the plenary puts this participant in a group,
//! a second connection joins the group's room with the same link, and the session
//! shows, hears and speaks in the group; when the plenary calls everyone back (or moves
//! this person), it leaves the group's room. The plenary connection stays open the whole
//! time (docs/protocol.md §14), so the plenary's view is current on the way back.

use std::time::{Duration, Instant};

use talkstick_signaling::RoomId;
use talkstick_signaling::protocol::{ClientMsg, ServerMsg};

use super::keys::Ui;
use super::model::RoomModel;
use super::rejoin::{Attempt, JoinTarget, backoff};
use crate::client::{ClientError, ClientEvent, Participant};
use tokio::sync::oneshot::error::RecvError;

/// This participant's seat in a breakout group.
#[derive(Debug)]
pub struct Seat {
    /// The group's room.
    pub room: RoomId,
    /// Its number in the round.
    pub no: u32,
    /// Its name or topic.
    pub name: String,
    /// The connection to the group's room, once joined.
    pub conn: Option<Participant>,
    /// The group's room as this participant knows it, once joined.
    pub model: Option<RoomModel>,
    /// The group's audio is connected.
    pub audio: bool,
    /// A join in flight.
    pub pending: Option<Attempt>,
    /// Lines of the group's model printed so far.
    pub printed: u64,
    attempts: u32,
}

/// What the plenary says about this participant's group now: a seat to keep, to leave,
/// or to take.
pub fn follow(
    seat: Option<Seat>,
    plenary: &mut RoomModel,
    target: &JoinTarget,
) -> (Option<Seat>, bool) {
    let wanted = plenary.my_group().map(|g| (g.room.clone(), g.no, g.name.clone()));
    match (seat, wanted) {
        (Some(mut s), Some((room, _, _))) if s.room == room => {
            // Still here; if the room refused before, the plenary's new word is a new
            // chance.
            if s.conn.is_none() && s.pending.is_none() {
                s.pending = Some(target.attempt(None, Some(room), Duration::ZERO));
            }
            (Some(s), false)
        }
        (None, None) => (None, false),
        (old, None) => {
            drop(old);
            plenary.say("Back in the plenary.");
            (None, true)
        }
        (old, Some((room, no, name))) => {
            drop(old);
            plenary.say(format!("Breakout groups: you are in group {no}, {name}. Joining it…"));
            let pending = Some(target.attempt(None, Some(room.clone()), Duration::ZERO));
            (
                Some(Seat {
                    room,
                    no,
                    name,
                    conn: None,
                    model: None,
                    audio: false,
                    pending,
                    printed: 0,
                    attempts: 0,
                }),
                true,
            )
        }
    }
}

/// What the seat's connection or its join in flight brought.
#[derive(Debug)]
pub enum SeatEvent {
    /// An event of the group's connection (`None`: it ended).
    Event(Option<ClientEvent>),
    /// The join finished.
    Joined(Result<Result<Participant, ClientError>, RecvError>),
}

impl Seat {
    /// Waits for the next thing the group's connection or the join in flight brings.
    pub async fn next(&mut self) -> SeatEvent {
        let Seat { conn, pending, .. } = self;
        tokio::select! {
            ev = async { match conn.as_mut() { Some(p) => p.events.recv().await, None => std::future::pending().await } } => SeatEvent::Event(ev),
            done = async { match pending.as_mut() { Some(rx) => rx.await, None => std::future::pending().await } } => SeatEvent::Joined(done),
        }
    }

    /// A message from the group's room.
    pub fn apply(&mut self, msg: &ServerMsg, at: Instant) {
        if let Some(m) = self.model.as_mut() {
            m.apply(msg, at);
        }
    }

    /// The group's connection ended: join again while the plenary still puts this
    /// participant here (a lead's new role, or a lost network); otherwise the plenary's
    /// next `breakouts` says where to go.
    pub fn lost(&mut self, plenary: &RoomModel, target: &JoinTarget) {
        self.conn = None;
        self.audio = false;
        if plenary.my_group().is_some_and(|g| g.room == self.room) {
            self.attempts += 1;
            let resume = self.model.as_ref().map(|m| m.you.resume_token.clone());
            let wait = if self.attempts == 1 {
                Duration::from_millis(300)
            } else {
                backoff(self.attempts)
            };
            self.pending = Some(target.attempt(resume, Some(self.room.clone()), wait));
        }
    }

    /// A join finished.
    pub async fn joined(
        &mut self,
        result: Result<Result<Participant, ClientError>, RecvError>,
        ui: &Ui,
        plenary: &mut RoomModel,
        target: &JoinTarget,
    ) {
        self.pending = None;
        match result {
            Ok(Ok(p)) => {
                let welcome =
                    ServerMsg::Welcome { protocol: 1, you: p.you.clone(), room: p.room.clone() };
                match self.model.as_mut() {
                    Some(m) => m.apply(&welcome, Instant::now()),
                    None => {
                        let mut m =
                            RoomModel::new(p.you.clone(), (*p.room).clone(), Instant::now());
                        m.say(format!(
                            "You are in group {}, {}: its own floor and queue.",
                            self.no, self.name
                        ));
                        self.model = Some(m);
                    }
                }
                p.send(ClientMsg::SetMic { on: ui.mic_on }).await;
                if ui.push_to_talk {
                    p.send(ClientMsg::SetPushToTalk { enabled: true }).await;
                }
                self.attempts = 0;
                self.conn = Some(p);
            }
            Ok(Err(ClientError::Refused { message, .. })) => {
                // Not (or no longer) admitted: the plenary's next word decides.
                plenary.say(format!("The group's room did not let you in: {message}"));
            }
            Ok(Err(_)) | Err(_) => self.lost(plenary, target),
        }
    }

    /// The banner for the view: the group, and the time left in the round (or until a
    /// call-back's countdown ends, whichever is first).
    pub fn banner(&self, plenary: &RoomModel, now: Instant) -> String {
        let left = plenary
            .breakouts
            .as_ref()
            .and_then(|b| {
                let end = [b.ends_ms, b.closes_ms].into_iter().flatten().min()?;
                let s = end.saturating_sub(plenary.room_ms(now)).div_ceil(1000);
                let clock = format!("{}:{:02}", s / 60, s % 60);
                Some(if b.closes_ms == Some(end) {
                    format!(" · back to the plenary in {clock}")
                } else {
                    format!(" · {clock} left")
                })
            })
            .unwrap_or_default();
        let state = if self.conn.is_some() { "" } else { " (joining)" };
        let asked = plenary
            .my_group()
            .is_some_and(|g| g.help.iter().any(|h| h.participant == plenary.you.id));
        let help = if asked { " · help asked (F to cancel)" } else { "" };
        format!("Group {}: {}{left}{state}{help}", self.no, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::model::tests_support::{room, round};

    #[test]
    fn the_banner_counts_down_to_whichever_comes_first_the_rounds_end_or_a_call_back() {
        let mut plenary = room();
        let now = Instant::now();
        let t = plenary.room_ms(now);
        let mut b = round(&[(1, true, &[]), (2, true, &[plenary.you.id])]);
        b.ends_ms = Some(t + 600_000);
        plenary.breakouts = Some(b);
        let seat = Seat {
            room: "demo.1.2".parse().unwrap(),
            no: 2,
            name: "Pricing".into(),
            conn: None,
            model: None,
            audio: false,
            pending: None,
            printed: 0,
            attempts: 0,
        };
        assert_eq!(seat.banner(&plenary, now), "Group 2: Pricing · 10:00 left (joining)");
        if let Some(b) = plenary.breakouts.as_mut() {
            b.closes_ms = Some(t + 45_000);
        }
        assert_eq!(
            seat.banner(&plenary, now),
            "Group 2: Pricing · back to the plenary in 0:45 (joining)"
        );
    }
}
