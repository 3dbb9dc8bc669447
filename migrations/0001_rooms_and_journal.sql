-- Rooms and their journals. Portable SQL (SQLite now, PostgreSQL later): integer and
-- text columns only, no SQLite-only types or tricks. Times are Unix nanoseconds or
-- milliseconds as stated; JSON is stored as text.

-- One run of a room: from its start to its end (a "session").
CREATE TABLE room_runs (
    run_id       BIGINT PRIMARY KEY,
    room         TEXT NOT NULL,
    started_ns   BIGINT NOT NULL,      -- Unix ns of the room clock's zero
    settings     TEXT NOT NULL,        -- JSON, the settings it started with
    audio_slots  INTEGER NOT NULL,
    capacity     INTEGER NOT NULL,
    last_ms      BIGINT NOT NULL,      -- Unix ms of the latest change written
    ended_ms     BIGINT,               -- NULL while running (or interrupted)
    report       TEXT                  -- JSON, written when it ends
);
CREATE INDEX room_runs_by_room ON room_runs (room, started_ns);
CREATE INDEX room_runs_open ON room_runs (ended_ms, last_ms);

-- Every accepted change of a run, in order (signaling's journal entries as JSON).
CREATE TABLE journal (
    run_id  BIGINT NOT NULL REFERENCES room_runs (run_id) ON DELETE CASCADE,
    idx     BIGINT NOT NULL,
    entry   TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
