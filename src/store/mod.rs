//! The session store: rooms remembered across a restart or a crash, and the sessions
//! they were.
//!
//! Why a journal and a writer thread: a room is deterministic given its inputs and the
//! passed-in time (`talkstick_signaling::journal`), so what is written is each room's
//! accepted changes, a few dozen bytes each, and a restart replays them. The room's task
//! never waits on the disk: it hands the changes to one writer thread per server, which
//! commits whatever has queued up in one transaction (group commit) and syncs to disk at
//! most every [`SYNC_INTERVAL`]. A change's messages leave for its members only once the
//! writer has committed it ([`DurableMark`]): what a client was told survives the server
//! being killed at any moment (see "Acknowledged" in docs/protocol.md).
//!
//! When the disk fails (full, unwritable), rooms go on in memory: the writer counts the
//! fault ([`Health`]), logs it once per kind, and releases the messages anyway; a store
//! that cannot be opened at start is a clear error, never a panic.
//!
//! - [`sqlite`]: the database (SQLite file under the data directory; migrations in
//!   `migrations/`). Another backend (PostgreSQL, for several servers) implements the
//!   same few operations.
//! - `writer`: the writer thread.
//! - [`reports`]: reading sessions back (lists, reports by replay, deletion, retention).

pub mod reports;
pub mod sqlite;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use talkstick_signaling::protocol::Settings;
use talkstick_signaling::{Entry, RoomId};
use tokio::sync::Notify;

/// The longest a committed change waits for its sync to disk.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// Rooms whose latest change is older than this at start are not restored: their people
/// have long gone (the resume grace is 30 s).
pub const RESTORE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Writes queued for the writer before a room stops waiting for it (a stuck disk).
pub const WRITE_QUEUE: usize = 65_536;

/// One run of a room, from its start to its end: a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl RunId {
    /// A fresh id: the start time in microseconds, made unique within the process.
    pub fn fresh() -> RunId {
        static LAST: AtomicU64 = AtomicU64::new(0);
        let now = unix_ns() as u64 / 1_000;
        let mut prev = LAST.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1);
            match LAST.compare_exchange(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return RunId(next as i64),
                Err(p) => prev = p,
            }
        }
    }
}

/// Why the store could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created or used.
    #[error("cannot use the data directory {path}: {source}")]
    Dir {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database file could not be opened, or is not a database.
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// Where.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// Another Talkstick uses this data directory (two servers would restore the same
    /// rooms twice and write over each other's journals).
    #[error(
        "the data directory {path} is in use by another Talkstick; stop it, or give this one its own --data-dir"
    )]
    InUse {
        /// Where.
        path: PathBuf,
    },
    /// The database was written by a newer Talkstick.
    #[error("the database {path} has schema version {found}; this Talkstick knows up to {known}")]
    TooNew {
        /// Where.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Stored JSON could not be read.
    #[error("stored data could not be read: {0}")]
    Json(#[from] serde_json::Error),
}

/// How the store is doing, for metrics, logs and facilitators' warnings.
#[derive(Debug, Default)]
pub struct Health {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Journal entries written.
    pub entries: AtomicU64,
    /// Writes that failed (the rooms went on in memory).
    pub faults: AtomicU64,
    /// Syncs to disk.
    pub syncs: AtomicU64,
    /// True while the latest write failed.
    pub failing: AtomicBool,
    /// The latest failure, in words.
    pub last_error: Mutex<Option<String>>,
}

impl Health {
    /// The counters now, for `/healthz`.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "commits": self.commits.load(Ordering::Relaxed),
            "entries": self.entries.load(Ordering::Relaxed),
            "syncs": self.syncs.load(Ordering::Relaxed),
            "faults": self.faults.load(Ordering::Relaxed),
            "failing": self.failing.load(Ordering::Relaxed),
            "last_error": self.last_error.lock().ok().and_then(|e| e.clone()),
        })
    }

    fn fault(&self, what: &str) {
        self.faults.fetch_add(1, Ordering::Relaxed);
        let first = !self.failing.swap(true, Ordering::Relaxed);
        if first {
            tracing::error!(error = %what, "the session store cannot write; rooms go on in memory");
        }
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(what.to_owned());
        }
    }

    /// A checkpoint to the database file failed: counted and logged, but commits go
    /// on into the write-ahead log.
    fn sync_fault(&self, what: &str) {
        self.faults.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %what, "the session store cannot sync to its database file");
    }

    fn ok(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::warn!("the session store writes again");
        }
    }
}

/// How far one room's journal is committed; shared by the room's task and the writer.
#[derive(Debug, Default)]
pub struct DurableMark {
    upto: AtomicU64,
    /// Woken when `upto` moves.
    pub notify: Notify,
}

impl DurableMark {
    /// Entries committed (the journal's length on disk).
    pub fn get(&self) -> u64 {
        self.upto.load(Ordering::Acquire)
    }

    fn advance(&self, to: u64) {
        if self.upto.fetch_max(to, Ordering::AcqRel) < to {
            self.notify.notify_one();
        }
    }
}

/// What the writer is asked to do.
#[derive(Debug)]
enum Write {
    Started(RunRecord),
    Entries {
        run: RunId,
        first: u64,
        entries: Vec<Entry>,
        mark: Arc<DurableMark>,
        /// When the room queued them: the writer measures the lag to their commit.
        queued: Instant,
    },
    Ended {
        run: RunId,
        ended_ms: i64,
        report: String,
    },
}

/// A room run as stored.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Which run.
    pub run: RunId,
    /// The room.
    pub room: RoomId,
    /// Unix ns of the room clock's zero.
    pub started_ns: i64,
    /// Settings it started with.
    pub settings: Settings,
    /// Audio slots per listener.
    pub audio_slots: u8,
    /// Most participants.
    pub capacity: usize,
}

/// A room to bring back at start: its run and every change it had accepted.
#[derive(Debug)]
pub struct Restored {
    /// The run.
    pub run: RunRecord,
    /// Its journal, in order.
    pub entries: Vec<Entry>,
}

/// A session as stored: its run, when it ended, and its journal.
#[derive(Debug)]
pub struct StoredRun {
    /// The run.
    pub run: RunRecord,
    /// Unix ms it ended; `None` while it runs (or if the server stopped during it).
    pub ended_ms: Option<i64>,
    /// Its journal, in order.
    pub entries: Vec<Entry>,
}

/// Reading sessions back. A backend implements this beside the writer's side
/// ([`Journal`]): SQLite today ([`sqlite::Db`]); PostgreSQL, for several servers, would
/// be another implementation of these few operations over the same schema.
pub trait Records: Send {
    /// A room's sessions, newest first, at most `limit`.
    fn list(&self, room: &RoomId, limit: usize)
    -> Result<Vec<reports::SessionSummary>, StoreError>;
    /// The newest session of a room.
    fn latest(&self, room: &RoomId) -> Result<Option<RunId>, StoreError>;
    /// The room a session belongs to, and whether it has ended.
    fn room_of(&self, run: RunId) -> Result<Option<(RoomId, bool)>, StoreError>;
    /// A session with its journal.
    fn load(&self, run: RunId) -> Result<Option<StoredRun>, StoreError>;
    /// Deletes a session and its journal.
    fn delete(&self, run: RunId) -> Result<(), StoreError>;
    /// Deletes sessions that ended more than `days` ago; returns how many.
    fn forget_older_than(&self, days: u32) -> Result<usize, StoreError>;
}

/// The writer's side of a backend: commit a batch in one transaction, sync to disk.
trait Journal: Send {
    fn write(&mut self, batch: &[Write]) -> Result<(), StoreError>;
    fn sync(&mut self) -> Result<(), StoreError>;
}

/// The server's handle on the store (cheap to clone).
#[derive(Debug, Clone)]
pub struct Store {
    tx: mpsc::SyncSender<Write>,
    health: Arc<Health>,
    path: Arc<PathBuf>,
    /// Held open with an exclusive lock while the server runs.
    _lock: Arc<std::fs::File>,
}

impl Store {
    /// Opens (or creates) the database under `dir`, runs the migrations, and returns
    /// the store with the rooms to restore: those not ended whose latest change is within
    /// [`RESTORE_WINDOW`]. Older unfinished runs are closed as interrupted.
    pub fn open(dir: &Path) -> Result<(Store, Vec<Restored>), StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::Dir { path: dir.to_owned(), source })?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(|source| StoreError::Dir { path: dir.to_owned(), source })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse { path: dir.to_owned() });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Dir { path: dir.to_owned(), source });
            }
        }
        let path = dir.join("talkstick.sqlite3");
        let mut db = sqlite::Db::open(&path)?;
        let since_ms = unix_ms() - RESTORE_WINDOW.as_millis() as i64;
        let restored = db.restorable(since_ms)?;
        let health = Arc::new(Health::default());
        let (tx, rx) = mpsc::sync_channel(WRITE_QUEUE);
        let commits = Arc::new(writer::Commits::default());
        let syncer = sqlite::Db::reader(&path)?;
        let spawn_err = |source| StoreError::Dir { path: dir.to_owned(), source };
        let (h, c) = (Arc::clone(&health), Arc::clone(&commits));
        std::thread::Builder::new()
            .name("talkstick-store".into())
            .spawn(move || writer::run(db, rx, &h, &c))
            .map_err(spawn_err)?;
        let (h, c) = (Arc::clone(&health), commits);
        std::thread::Builder::new()
            .name("talkstick-sync".into())
            .spawn(move || writer::sync(syncer, &h, &c))
            .map_err(spawn_err)?;
        Ok((Store { tx, health, path: Arc::new(path), _lock: Arc::new(lock) }, restored))
    }

    /// How the store is doing.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader of the stored sessions (its own connection: readers never block the
    /// writer). Blocking: call it off the async threads.
    pub fn records(&self) -> Result<Box<dyn Records>, StoreError> {
        Ok(Box::new(sqlite::Db::reader(&self.path)?))
    }

    /// Records a new run and returns the journal handle its room writes through.
    pub fn start(&self, run: RunRecord) -> RoomLog {
        let id = run.run;
        self.send(Write::Started(run));
        RoomLog::new(self.clone(), id, 0)
    }

    /// The journal handle of a restored run, continuing after `entries` entries.
    pub fn resume(&self, run: RunId, entries: u64) -> RoomLog {
        RoomLog::new(self.clone(), run, entries)
    }

    fn send(&self, w: Write) -> bool {
        match self.tx.try_send(w) {
            Ok(()) => true,
            Err(mpsc::TrySendError::Full(_)) => {
                self.health.fault("the store's write queue is full (the disk is too slow)");
                false
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                self.health.fault("the store's writer has stopped");
                false
            }
        }
    }
}

/// One room's journal on its way to disk.
#[derive(Debug)]
pub struct RoomLog {
    store: Store,
    run: RunId,
    /// Entries handed to the writer so far.
    next: u64,
    mark: Arc<DurableMark>,
}

impl RoomLog {
    fn new(store: Store, run: RunId, next: u64) -> Self {
        let mark = Arc::new(DurableMark::default());
        mark.advance(next);
        RoomLog { store, run, next, mark }
    }

    /// The run.
    pub fn run(&self) -> RunId {
        self.run
    }

    /// Hands entries to the writer; returns the count that must be committed before the
    /// messages they caused may leave. When the writer cannot take them, the room goes
    /// on in memory: the count returned is already reached.
    pub fn append(&mut self, entries: Vec<Entry>) -> u64 {
        if entries.is_empty() {
            return self.next;
        }
        let first = self.next;
        self.next += entries.len() as u64;
        let mark = Arc::clone(&self.mark);
        let w = Write::Entries { run: self.run, first, entries, mark, queued: Instant::now() };
        if !self.store.send(w) {
            self.mark.advance(self.next);
        }
        self.next
    }

    /// Whether the store's latest write failed, and why.
    pub fn failing(&self) -> Option<String> {
        let h = &self.store.health;
        if !h.failing.load(Ordering::Relaxed) {
            return None;
        }
        Some(h.last_error.lock().ok().and_then(|e| e.clone()).unwrap_or_default())
    }

    /// Entries committed.
    pub fn durable(&self) -> u64 {
        self.mark.get()
    }

    /// The mark the room's task waits on.
    pub fn mark(&self) -> Arc<DurableMark> {
        Arc::clone(&self.mark)
    }

    /// Closes the run with its report (JSON).
    pub fn end(&self, report: String) {
        self.store.send(Write::Ended { run: self.run, ended_ms: unix_ms(), report });
    }
}

/// Now, in Unix nanoseconds.
pub fn unix_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Now, in Unix milliseconds.
pub fn unix_ms() -> i64 {
    unix_ns() / 1_000_000
}
