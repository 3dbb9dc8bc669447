//! The SQLite backend: one file, WAL mode, migrations from `migrations/` applied in
//! order at open. The queries are plain SQL that PostgreSQL reads the same way.
//!
//! The writer thread owns one connection ([`Journal`]); each reader opens its own
//! ([`Db::reader`], [`Records`]): SQLite in WAL mode lets readers run beside the writer
//! without blocking it, and a report is read rarely, so a connection per request costs
//! nothing that matters and shares no state with the writer.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use talkstick_signaling::{Entry, RoomId};

use super::reports::SessionSummary;
use super::{Journal, Records, Restored, RunId, RunRecord, StoreError, StoredRun, Write, unix_ms};

/// The migrations, in order; the schema's version is the number applied.
const MIGRATIONS: &[&str] = &[include_str!("../../migrations/0001_rooms_and_journal.sql")];

/// An open database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

impl Db {
    /// Opens or creates the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let open_err = |source| StoreError::Open { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(open_err)?;
        // The first statements read the file: a file that is not a database fails here.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open_err)?;
        let mut db = Db { conn };
        db.migrate(path)?;
        Ok(db)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), StoreError> {
        let open_err = |source| StoreError::Open { path: path.to_owned(), source };
        self.conn
            .execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", [])
            .map_err(open_err)?;
        let found: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
            .map_err(open_err)?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew { path: path.to_owned(), found, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", params![i as i64 + 1])?;
            tx.commit()?;
            tracing::info!(version = i + 1, "database schema migrated");
        }
        Ok(())
    }

    /// Runs not ended whose latest change is at or after `since_ms`, with their journals;
    /// older unfinished runs are closed (ended at their latest change).
    pub fn restorable(&mut self, since_ms: i64) -> Result<Vec<Restored>, StoreError> {
        self.conn.execute(
            "UPDATE room_runs SET ended_ms = last_ms WHERE ended_ms IS NULL AND last_ms < ?1",
            params![since_ms],
        )?;
        let mut runs = Vec::new();
        {
            let mut q = self.conn.prepare(
                "SELECT run_id, room, started_ns, settings, audio_slots, capacity
                 FROM room_runs WHERE ended_ms IS NULL ORDER BY run_id",
            )?;
            let rows = q.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            for row in rows {
                let (run, room, started_ns, settings, slots, capacity) = row?;
                let Ok(room) = room.parse() else {
                    tracing::warn!(%room, "a stored room has an invalid id; skipped");
                    continue;
                };
                runs.push(RunRecord {
                    run: RunId(run),
                    room,
                    started_ns,
                    settings: serde_json::from_str(&settings)?,
                    audio_slots: slots.clamp(1, 8) as u8,
                    capacity: capacity.max(1) as usize,
                });
            }
        }
        let mut out = Vec::with_capacity(runs.len());
        let mut q =
            self.conn.prepare("SELECT entry FROM journal WHERE run_id = ?1 ORDER BY idx")?;
        for run in runs {
            let rows = q.query_map(params![run.run.0], |r| r.get::<_, String>(0))?;
            let mut entries = Vec::new();
            for text in rows {
                entries.push(serde_json::from_str::<Entry>(&text?)?);
            }
            out.push(Restored { run, entries });
        }
        Ok(out)
    }
}

impl Journal for Db {
    /// Writes a batch in one transaction.
    fn write(&mut self, batch: &[Write]) -> Result<(), StoreError> {
        let now_ms = unix_ms();
        let tx = self.conn.transaction()?;
        {
            let mut start = tx.prepare_cached(
                "INSERT INTO room_runs (run_id, room, started_ns, settings, audio_slots, capacity, last_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut entry =
                tx.prepare_cached("INSERT INTO journal (run_id, idx, entry) VALUES (?1, ?2, ?3)")?;
            let mut touch =
                tx.prepare_cached("UPDATE room_runs SET last_ms = ?2 WHERE run_id = ?1")?;
            let mut end = tx.prepare_cached(
                "UPDATE room_runs SET ended_ms = ?2, last_ms = ?2, report = ?3 WHERE run_id = ?1",
            )?;
            let mut touched = Vec::new();
            for w in batch {
                match w {
                    Write::Started(r) => {
                        start.execute(params![
                            r.run.0,
                            r.room.as_str(),
                            r.started_ns,
                            serde_json::to_string(&r.settings)?,
                            i64::from(r.audio_slots),
                            r.capacity as i64,
                            now_ms
                        ])?;
                    }
                    Write::Entries { run, first, entries, .. } => {
                        for (i, e) in entries.iter().enumerate() {
                            let text = serde_json::to_string(e)?;
                            entry.execute(params![run.0, (*first + i as u64) as i64, text])?;
                        }
                        if !touched.contains(run) {
                            touched.push(*run);
                        }
                    }
                    Write::Ended { run, ended_ms, report } => {
                        end.execute(params![run.0, ended_ms, report])?;
                    }
                }
            }
            for run in touched {
                touch.execute(params![run.0, now_ms])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Syncs what was committed to disk (a checkpoint of the write-ahead log).
    fn sync(&mut self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

impl Db {
    /// A reader's connection to an existing database (no migrations: the server that
    /// owns the file ran them at start).
    pub fn reader(path: &Path) -> Result<Db, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Db { conn })
    }

    fn run_record(&self, run: RunId) -> Result<Option<(RunRecord, Option<i64>)>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT room, started_ns, settings, audio_slots, capacity, ended_ms
                 FROM room_runs WHERE run_id = ?1",
                params![run.0],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((room, started_ns, settings, slots, capacity, ended_ms)) = row else {
            return Ok(None);
        };
        let Ok(room) = room.parse() else { return Ok(None) };
        let record = RunRecord {
            run,
            room,
            started_ns,
            settings: serde_json::from_str(&settings)?,
            audio_slots: slots.clamp(1, 8) as u8,
            capacity: capacity.max(1) as usize,
        };
        Ok(Some((record, ended_ms)))
    }
}

impl Records for Db {
    fn list(&self, room: &RoomId, limit: usize) -> Result<Vec<SessionSummary>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT r.run_id, r.started_ns, r.ended_ms,
                    (SELECT COUNT(*) FROM journal j WHERE j.run_id = r.run_id)
             FROM room_runs r WHERE r.room = ?1 ORDER BY r.started_ns DESC LIMIT ?2",
        )?;
        let rows = q.query_map(params![room.as_str(), limit as i64], |r| {
            Ok(SessionSummary {
                run: RunId(r.get(0)?),
                started_ms: r.get::<_, i64>(1)? / 1_000_000,
                ended_ms: r.get(2)?,
                changes: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn latest(&self, room: &RoomId) -> Result<Option<RunId>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT run_id FROM room_runs WHERE room = ?1 ORDER BY started_ns DESC LIMIT 1",
                params![room.as_str()],
                |r| r.get(0).map(RunId),
            )
            .optional()?)
    }

    fn room_of(&self, run: RunId) -> Result<Option<(RoomId, bool)>, StoreError> {
        Ok(self.run_record(run)?.map(|(r, ended)| (r.room, ended.is_some())))
    }

    fn load(&self, run: RunId) -> Result<Option<StoredRun>, StoreError> {
        let Some((record, ended_ms)) = self.run_record(run)? else { return Ok(None) };
        let mut q =
            self.conn.prepare("SELECT entry FROM journal WHERE run_id = ?1 ORDER BY idx")?;
        let mut entries = Vec::new();
        for text in q.query_map(params![run.0], |r| r.get::<_, String>(0))? {
            entries.push(serde_json::from_str::<Entry>(&text?)?);
        }
        Ok(Some(StoredRun { run: record, ended_ms, entries }))
    }

    fn delete(&self, run: RunId) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM journal WHERE run_id = ?1", params![run.0])?;
        self.conn.execute("DELETE FROM room_runs WHERE run_id = ?1", params![run.0])?;
        Ok(())
    }

    fn forget_older_than(&self, days: u32) -> Result<usize, StoreError> {
        let before = unix_ms() - i64::from(days) * 86_400_000;
        self.conn.execute(
            "DELETE FROM journal WHERE run_id IN
               (SELECT run_id FROM room_runs WHERE ended_ms IS NOT NULL AND ended_ms < ?1)",
            params![before],
        )?;
        let n = self.conn.execute(
            "DELETE FROM room_runs WHERE ended_ms IS NOT NULL AND ended_ms < ?1",
            params![before],
        )?;
        Ok(n)
    }
}
