//! Which rooms exist: room id → the task that owns it. Rooms start on first join and
//! end after lingering empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use talkstick_signaling::journal::Origin;
use talkstick_signaling::protocol::Settings;
use talkstick_signaling::room::{DEFAULT_AUDIO_SLOTS, DEFAULT_CAPACITY};
use talkstick_signaling::{JoinRequest, Joined, Room, RoomError, RoomId};
use tokio::sync::{mpsc, oneshot};

use super::core::RoomCore;
use super::directory::{Eviction, GroupDirectory};
use super::inbox::{Conn, MEDIA_BUFFER, Plane, ROOM_BUFFER, RoomCmd, RoomHandle};
use super::task;
use crate::store::{Restored, RoomLog, RunId, RunRecord, Store, unix_ns};
use crate::turn::TurnConfig;

/// Why a join did not reach a room.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The room refused (e.g. full).
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The room's task kept ending under us; the server is likely shutting down.
    #[error("the room is not available right now")]
    Unavailable,
    /// The server is draining: it starts no new rooms.
    #[error("the server is restarting; join again in a minute")]
    Draining,
}

/// The map of running rooms.
#[derive(Debug)]
pub struct Registry {
    rooms: DashMap<RoomId, RoomHandle>,
    generation: AtomicU64,
    defaults: Settings,
    media: Option<Arc<Plane>>,
    store: Option<Store>,
    /// TURN relays offered to every participant (set once at start).
    turn: std::sync::OnceLock<Arc<TurnConfig>>,
    /// Set once the server drains: no new rooms.
    draining: std::sync::atomic::AtomicBool,
    /// Woken when someone asks the server to drain (`POST /api/admin/drain`).
    drain_asked: tokio::sync::Notify,
    /// Who each breakout group's room admits.
    directory: Arc<GroupDirectory>,
}

impl Registry {
    /// An empty registry whose new rooms start with `defaults`, without audio.
    pub fn new(defaults: Settings) -> Arc<Self> {
        Registry::with_media(defaults, None)
    }

    /// An empty registry whose rooms forward audio through `media`.
    pub fn with_media(defaults: Settings, media: Option<Arc<Plane>>) -> Arc<Self> {
        Registry::with_store(defaults, media, None)
    }

    /// An empty registry whose rooms forward audio through `media` and keep their
    /// journals in `store`.
    pub fn with_store(
        defaults: Settings,
        media: Option<Arc<Plane>>,
        store: Option<Store>,
    ) -> Arc<Self> {
        let rooms = DashMap::new();
        let registry = Arc::new(Registry {
            rooms,
            generation: AtomicU64::new(1),
            defaults,
            media,
            store,
            turn: std::sync::OnceLock::new(),
            draining: std::sync::atomic::AtomicBool::new(false),
            drain_asked: tokio::sync::Notify::new(),
            directory: Arc::default(),
        });
        // Evictions reach a group room through its inbox, if it runs (one that does not
        // has nobody to send out). A full inbox drops it: the person's page leaves by
        // itself too, on the plenary's word.
        let weak = Arc::downgrade(&registry);
        registry.directory.set_evictor(Arc::new(move |room: &RoomId, eviction: Eviction| {
            let Some(registry) = weak.upgrade() else { return };
            if let Some(h) = registry.rooms.get(room)
                && h.tx.try_send(RoomCmd::Evict(eviction)).is_err()
            {
                tracing::warn!(%room, "a group room's inbox is full; an eviction was dropped");
            }
        }));
        registry
    }

    /// Who each breakout group's room admits.
    pub fn directory(&self) -> &GroupDirectory {
        &self.directory
    }

    /// The session store, if rooms are remembered.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Whether the server is draining (starting no new rooms).
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Asks the server to drain (as SIGTERM does).
    pub fn ask_to_drain(&self) {
        self.drain_asked.notify_one();
    }

    /// Resolves when someone asked the server to drain.
    pub async fn drain_asked(&self) {
        self.drain_asked.notified().await;
    }

    /// Starts no new rooms from now on, tells everyone in the running ones `message`,
    /// and waits until they have all ended or `limit` has passed; returns how many are
    /// still running (they come back on the next start, with the session store).
    pub async fn drain(&self, message: &str, limit: Duration) -> usize {
        self.draining.store(true, Ordering::Relaxed);
        let handles: Vec<RoomHandle> = self.rooms.iter().map(|e| e.value().clone()).collect();
        for h in &handles {
            let _ = h.tx.send(RoomCmd::Draining { message: message.to_owned() }).await;
        }
        let deadline = tokio::time::Instant::now() + limit;
        while !self.rooms.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.rooms.len()
    }

    /// Offers these TURN relays to everyone who joins from now on (once, at start).
    pub fn set_turn(&self, turn: TurnConfig) {
        let _ = self.turn.set(Arc::new(turn));
    }

    /// Starts a task for each room the store brought back, rebuilt from its journal; the
    /// people in it are in their resume grace from now. Returns how many came back; a
    /// room whose journal does not replay is logged and left out.
    pub fn restore(self: &Arc<Self>, restored: Vec<Restored>) -> usize {
        let Some(store) = self.store.clone() else { return 0 };
        let mut count = 0;
        for Restored { run, entries } in restored {
            let age = Duration::from_nanos(unix_ns().saturating_sub(run.started_ns).max(0) as u64);
            let Some(epoch) = Instant::now().checked_sub(age) else {
                tracing::warn!(room = %run.room, "a stored room is older than this machine's clock; not restored");
                continue;
            };
            let origin = Origin {
                id: run.room.clone(),
                settings: run.settings.clone(),
                epoch,
                audio_slots: run.audio_slots,
                capacity: run.capacity,
            };
            let len = entries.len() as u64;
            match Room::replay(origin, entries) {
                Ok(room) => {
                    let log = store.resume(run.run, len);
                    self.spawn(&run.room, room, Some(log), true);
                    count += 1;
                }
                Err(e) => {
                    tracing::error!(room = %run.room, error = %e, "a stored room could not be restored")
                }
            }
        }
        count
    }

    /// The media plane, if audio is on.
    pub fn media(&self) -> Option<&Arc<Plane>> {
        self.media.as_ref()
    }

    /// Rooms running now.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Each running room with the people in it (present or in their grace period).
    pub fn rooms(&self) -> Vec<(RoomId, usize)> {
        let mut out: Vec<(RoomId, usize)> = self
            .rooms
            .iter()
            .map(|e| (e.key().clone(), e.value().people.load(Ordering::Relaxed)))
            .collect();
        out.sort();
        out
    }

    /// The running room's handle, starting its task if it has none.
    pub fn get_or_start(self: &Arc<Self>, id: &RoomId) -> RoomHandle {
        if let Some(h) = self.rooms.get(id) {
            return h.clone();
        }
        self.rooms
            .entry(id.clone())
            .or_insert_with(|| {
                let started_ns = unix_ns();
                let mut room = Room::new(id.clone(), self.defaults.clone(), Instant::now());
                let audio_slots = match &self.media {
                    Some(m) => {
                        room.set_audio_slots(m.slots as u8);
                        m.slots as u8
                    }
                    None => DEFAULT_AUDIO_SLOTS,
                };
                let log = self.store.as_ref().map(|store| {
                    store.start(RunRecord {
                        run: RunId::fresh(),
                        room: id.clone(),
                        started_ns,
                        settings: self.defaults.clone(),
                        audio_slots,
                        capacity: DEFAULT_CAPACITY,
                    })
                });
                self.handle_for(id, room, log, false)
            })
            .clone()
    }

    /// Starts a room's task and registers it (replacing any entry).
    fn spawn(self: &Arc<Self>, id: &RoomId, room: Room, log: Option<RoomLog>, restarted: bool) {
        let handle = self.handle_for(id, room, log, restarted);
        self.rooms.insert(id.clone(), handle);
    }

    /// Starts a room's task; returns its handle.
    fn handle_for(
        self: &Arc<Self>,
        id: &RoomId,
        room: Room,
        log: Option<RoomLog>,
        restarted: bool,
    ) -> RoomHandle {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(ROOM_BUFFER);
        let (datagram_tx, datagram_rx) = mpsc::channel(MEDIA_BUFFER);
        let room = if log.is_some() { room.journaled() } else { room };
        let mut core = RoomCore::new(room, self.media.clone(), datagram_tx);
        if let Some(log) = log {
            core = core.with_log(log);
        }
        if let Some(turn) = self.turn.get() {
            core = core.with_turn(Arc::clone(turn));
        }
        core = core.with_directory(Arc::clone(&self.directory));
        if restarted {
            core.after_restart();
        }
        let people = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (registry, room) = (Arc::clone(self), id.clone());
        let on_end = move || registry.forget(&room, generation);
        let span = tracing::info_span!("room", room = %id);
        tokio::spawn(tracing::Instrument::instrument(
            task::run(core, rx, datagram_rx, Arc::clone(&people), on_end),
            span,
        ));
        tracing::info!(room = %id, restarted, "room started");
        RoomHandle { tx, generation, people }
    }

    /// Joins a room, starting it if needed. Retries when the room's task ended between
    /// lookup and join (it lingered empty and just stopped).
    pub async fn join(
        self: &Arc<Self>,
        id: &RoomId,
        req: JoinRequest,
        conn: Conn,
    ) -> Result<(Joined, RoomHandle), JoinError> {
        for _ in 0..3 {
            if self.draining() && !self.rooms.contains_key(id) {
                return Err(JoinError::Draining);
            }
            let handle = self.get_or_start(id);
            let (reply, answer) = oneshot::channel();
            let cmd = RoomCmd::Join { req: req.clone(), conn: conn.clone(), reply };
            if handle.tx.send(cmd).await.is_ok()
                && let Ok(result) = answer.await
            {
                return Ok((result?, handle));
            }
            self.forget(id, handle.generation);
        }
        Err(JoinError::Unavailable)
    }

    /// Drops a room's entry if it still belongs to the task of `generation`.
    pub fn forget(&self, id: &RoomId, generation: u64) {
        self.rooms.remove_if(id, |_, h| h.generation == generation);
    }

    /// Tells every room to say goodbye and end; waits up to `grace` for them.
    pub async fn shutdown(&self, grace: Duration) {
        let handles: Vec<RoomHandle> = self.rooms.iter().map(|e| e.value().clone()).collect();
        for h in &handles {
            let _ = h.tx.send(RoomCmd::Shutdown).await;
        }
        let deadline = tokio::time::Instant::now() + grace;
        for h in handles {
            tokio::select! {
                () = h.tx.closed() => {}
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
    }
}
