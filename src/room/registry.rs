//! Which rooms exist: room id → the task that owns it. Rooms start on first join and
//! end after lingering empty.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use talkstick_signaling::protocol::Settings;
use talkstick_signaling::{JoinRequest, Joined, Room, RoomError, RoomId};
use tokio::sync::{mpsc, oneshot};

use super::core::RoomCore;
use super::inbox::{Conn, MEDIA_BUFFER, Plane, ROOM_BUFFER, RoomCmd, RoomHandle};
use super::task;

/// Why a join did not reach a room.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The room refused (e.g. full).
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The room's task kept ending under us; the server is likely shutting down.
    #[error("the room is not available right now")]
    Unavailable,
}

/// The map of running rooms.
#[derive(Debug)]
pub struct Registry {
    rooms: DashMap<RoomId, RoomHandle>,
    generation: AtomicU64,
    defaults: Settings,
    media: Option<Arc<Plane>>,
}

impl Registry {
    /// An empty registry whose new rooms start with `defaults`, without audio.
    pub fn new(defaults: Settings) -> Arc<Self> {
        Registry::with_media(defaults, None)
    }

    /// An empty registry whose rooms forward audio through `media`.
    pub fn with_media(defaults: Settings, media: Option<Arc<Plane>>) -> Arc<Self> {
        Arc::new(Registry { rooms: DashMap::new(), generation: AtomicU64::new(1), defaults, media })
    }

    /// The media plane, if audio is on.
    pub fn media(&self) -> Option<&Arc<Plane>> {
        self.media.as_ref()
    }

    /// Rooms running now.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The running room's handle, starting its task if it has none.
    pub fn get_or_start(self: &Arc<Self>, id: &RoomId) -> RoomHandle {
        if let Some(h) = self.rooms.get(id) {
            return h.clone();
        }
        self.rooms
            .entry(id.clone())
            .or_insert_with(|| {
                let generation = self.generation.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = mpsc::channel(ROOM_BUFFER);
                let (datagram_tx, datagram_rx) = mpsc::channel(MEDIA_BUFFER);
                let mut room =
                    Room::new(id.clone(), self.defaults.clone(), std::time::Instant::now());
                if let Some(m) = &self.media {
                    room.set_audio_slots(m.slots as u8);
                }
                let core = RoomCore::new(room, self.media.clone(), datagram_tx);
                let (registry, room) = (Arc::clone(self), id.clone());
                let on_end = move || registry.forget(&room, generation);
                tokio::spawn(task::run(core, rx, datagram_rx, on_end));
                tracing::info!(room = %id, "room started");
                RoomHandle { tx, generation }
            })
            .clone()
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
            let handle = self.get_or_start(id);
            let (reply, answer) = oneshot::channel();
            let cmd = RoomCmd::Join { req: req.clone(), conn: conn.clone(), reply };
            if handle.tx.send(cmd).await.is_ok() {
                if let Ok(result) = answer.await {
                    return Ok((result?, handle));
                }
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
