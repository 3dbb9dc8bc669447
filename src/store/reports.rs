//! Sessions read back as reports: a session's journal (from any backend's
//! [`Records`]) replayed into its report (`talkstick_signaling::report`), and deletion
//! with its rules. No SQL here: what is stored and how is the backend's business.
//! Callers run these on a blocking thread.

use std::time::Instant;

use serde::Serialize;
use talkstick_signaling::report::SessionReport;
use talkstick_signaling::{Origin, RoomId};

use super::{Records, RunId, StoreError, unix_ns};

/// Most sessions listed for a room.
pub const LIST_LIMIT: usize = 100;

/// A session in a room's list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSummary {
    /// Its id.
    pub run: RunId,
    /// Unix ms it started.
    pub started_ms: i64,
    /// Unix ms it ended; `None` while it runs (or if the server stopped during it).
    pub ended_ms: Option<i64>,
    /// Journal entries (a rough measure of how much happened).
    pub changes: i64,
}

/// A session's report with when it was.
#[derive(Debug, Clone, Serialize)]
pub struct StoredReport {
    /// Its id.
    pub run: RunId,
    /// The room.
    pub room: RoomId,
    /// Unix ms it started.
    pub started_ms: i64,
    /// Unix ms it ended; `None` while it runs.
    pub ended_ms: Option<i64>,
    /// What happened.
    #[serde(flatten)]
    pub report: SessionReport,
    /// In a plenary: each breakout group's own session (talk time and turns per group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupReport>,
}

/// One breakout group's session, as a plenary's report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// The breakout round (1, 2, …).
    pub round: u32,
    /// The group's number in its round.
    pub no: u32,
    /// Its name or topic.
    pub name: String,
    /// Its room.
    pub room: RoomId,
    /// Its session's id (its full report is that session's).
    pub run: RunId,
    /// How long it ran, ms.
    pub duration_ms: u64,
    /// Turns taken in it.
    pub turns: usize,
    /// Everyone who was in it, with their talk time and turns there.
    pub people: Vec<talkstick_signaling::report::ReportPerson>,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No such session.
    #[error("no such session")]
    NotFound,
    /// The session is still running (it cannot be deleted).
    #[error("the session is still running")]
    Running,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The journal did not replay.
    #[error("the session's record could not be read: {0}")]
    Replay(#[from] talkstick_signaling::ReplayError),
}

/// One session's report: its journal replayed, up to its end (or now, while it runs).
pub fn report(records: &dyn Records, run: RunId) -> Result<StoredReport, ReportError> {
    let stored = records.load(run)?.ok_or(ReportError::NotFound)?;
    let r = stored.run;
    let origin = Origin {
        id: r.room.clone(),
        settings: r.settings,
        epoch: Instant::now(),
        audio_slots: r.audio_slots,
        capacity: r.capacity,
    };
    let until_ns = match stored.ended_ms {
        Some(end) => end.saturating_mul(1_000_000),
        None => unix_ns(),
    }
    .saturating_sub(r.started_ns)
    .max(0) as u64;
    let report = SessionReport::build(origin, stored.entries, until_ns)?;
    let started_ms = r.started_ns / 1_000_000;
    let groups = groups_of(records, &report, started_ms, stored.ended_ms)?;
    Ok(StoredReport { run, room: r.room, started_ms, ended_ms: stored.ended_ms, report, groups })
}

/// The sessions of a plenary's breakout groups that ran within the plenary's session
/// (a group room's session starts when its first person arrives).
fn groups_of(
    records: &dyn Records,
    plenary: &SessionReport,
    started_ms: i64,
    ended_ms: Option<i64>,
) -> Result<Vec<GroupReport>, ReportError> {
    let mut out = Vec::new();
    for round in &plenary.breakouts {
        for g in &round.groups {
            let within = |s: &SessionSummary| {
                s.started_ms >= started_ms && ended_ms.is_none_or(|end| s.started_ms <= end)
            };
            let Some(session) = records.list(&g.room, 4)?.into_iter().find(within) else {
                continue; // nobody ever came into it
            };
            let Ok(group) = report(records, session.run) else { continue };
            out.push(GroupReport {
                round: round.round,
                no: g.no,
                name: g.name.clone(),
                room: g.room.clone(),
                run: session.run,
                duration_ms: group.report.duration_ms,
                turns: group.report.turns.len(),
                people: group.report.people,
            });
        }
    }
    Ok(out)
}

/// Deletes an ended session and its journal; a running one is refused.
pub fn delete(records: &dyn Records, run: RunId) -> Result<(), ReportError> {
    match records.room_of(run)? {
        None => Err(ReportError::NotFound),
        Some((_, false)) => Err(ReportError::Running),
        Some((_, true)) => {
            records.delete(run)?;
            Ok(())
        }
    }
}
