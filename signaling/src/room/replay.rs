//! Rebuilding a room from its journal (see [`crate::journal`]): the restart path of the
//! session store.

use std::time::{Duration, Instant};

use super::Room;
use crate::journal::{Change, Entry, Origin, ReplayError};

impl Room {
    /// Rebuilds a room from its origin and journal, in order. The rebuilt room records
    /// its own journal from here on (the entries replayed are not recorded again), and
    /// has no outputs pending: what the original said was said.
    pub fn replay(
        origin: Origin,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Result<Room, ReplayError> {
        Room::replay_with(origin, entries, |_, _, _| {})
    }

    /// [`Room::replay`], showing `each` the room after every entry with the change it
    /// applied and its time: how a session report follows a room through its life.
    pub fn replay_with(
        origin: Origin,
        entries: impl IntoIterator<Item = Entry>,
        mut each: impl FnMut(&Room, &Change, Instant),
    ) -> Result<Room, ReplayError> {
        let mut room = Room::new(origin.id.clone(), origin.settings, origin.epoch);
        room.set_audio_slots(origin.audio_slots);
        room.set_capacity(origin.capacity);
        let mut last = 0;
        for (index, entry) in entries.into_iter().enumerate() {
            if entry.at_ns < last {
                return Err(ReplayError::OutOfOrder { room: origin.id, index });
            }
            last = entry.at_ns;
            let now = origin.epoch + Duration::from_nanos(entry.at_ns);
            let refused =
                |why: String| ReplayError::Refused { room: origin.id.clone(), index, why };
            match &entry.change {
                Change::Join(rec) => {
                    room.join_record(now, rec.clone(), None).map_err(|e| refused(e.to_string()))?;
                }
                Change::Input(input) => {
                    room.handle(now, input.clone()).map_err(|e| refused(e.to_string()))?;
                }
            }
            while room.poll_output().is_some() {}
            each(&room, &entry.change, now);
        }
        Ok(room.journaled())
    }
}
