//! The directory of breakout group rooms: which links each group room admits, and as
//! what, as the plenaries last said.
//!
//! Why a directory beside the rooms: a group room is an ordinary room, and the only one
//! who knows who belongs in it is its plenary (`talkstick_signaling::breakouts`), which
//! runs on another task. The plenary's core writes its groups here after every change;
//! the WebSocket edge reads it before it lets anyone into a group room; and whoever the
//! plenary no longer puts in a group is sent out of it (the registry hands the directory
//! a way to reach a running room, so nothing here depends on the registry).
//!
//! Bounded: a plenary has at most `MAX_GROUPS` groups, and a group admits at most the
//! plenary's people; a plenary's groups are dropped when it calls everyone back or ends.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use talkstick_signaling::breakouts::GroupAccess;
use talkstick_signaling::protocol::Role;
use talkstick_signaling::{LinkId, RoomId};

/// What the directory asks of a group room whose people changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    /// These links are in the group no more: out, for good.
    Leave(Vec<LinkId>),
    /// These links have a new role in the group: their connection is closed, and they
    /// come back (resume) in it.
    Rejoin(Vec<LinkId>),
}

/// Sends an eviction to a group room, if it runs.
pub type Evictor = Arc<dyn Fn(&RoomId, Eviction) + Send + Sync>;

/// Who a group room admits: each link with its role there and its plenary colour.
type People = HashMap<LinkId, (Role, String)>;

/// The directory (see the module header).
#[derive(Default)]
pub struct GroupDirectory {
    groups: DashMap<RoomId, People>,
    /// Each plenary's group rooms, to replace them all at once.
    by_plenary: DashMap<RoomId, Vec<RoomId>>,
    evictor: OnceLock<Evictor>,
}

impl std::fmt::Debug for GroupDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupDirectory").field("groups", &self.groups.len()).finish()
    }
}

impl GroupDirectory {
    /// Sets how evictions reach running rooms (once, by the registry).
    pub fn set_evictor(&self, evictor: Evictor) {
        let _ = self.evictor.set(evictor);
    }

    /// The role and plenary colour `link` has in `group`, if the group admits it.
    pub fn admits(&self, group: &RoomId, link: &LinkId) -> Option<(Role, String)> {
        self.groups.get(group)?.get(link).cloned()
    }

    /// Open group rooms, in all plenaries.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group room is open.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Replaces `plenary`'s groups with `groups` (empty: none are open), and sends out of
    /// each running group room whoever it no longer admits.
    pub fn update(&self, plenary: &RoomId, groups: Vec<GroupAccess>) {
        let mut evictions: Vec<(RoomId, Eviction)> = Vec::new();
        let new_rooms: Vec<RoomId> = groups.iter().map(|g| g.room.clone()).collect();
        let old_rooms = self.by_plenary.remove(plenary).map(|(_, v)| v).unwrap_or_default();
        let mut fresh: HashMap<RoomId, People> = groups
            .into_iter()
            .map(|g| {
                let people = g.people.into_iter().map(|(l, r, c)| (l, (r, c))).collect();
                (g.room, people)
            })
            .collect();
        for room in &old_rooms {
            let Some((_, old)) = self.groups.remove(room) else { continue };
            let new = fresh.get(room);
            let gone: Vec<LinkId> =
                old.keys().filter(|l| new.is_none_or(|n| !n.contains_key(*l))).cloned().collect();
            let changed: Vec<LinkId> = old
                .iter()
                .filter(|(l, (role, _))| {
                    new.and_then(|n| n.get(*l)).is_some_and(|(r, _)| r != role)
                })
                .map(|(l, _)| l.clone())
                .collect();
            if !gone.is_empty() {
                evictions.push((room.clone(), Eviction::Leave(gone)));
            }
            if !changed.is_empty() {
                evictions.push((room.clone(), Eviction::Rejoin(changed)));
            }
        }
        for (room, people) in fresh.drain() {
            self.groups.insert(room, people);
        }
        if !new_rooms.is_empty() {
            self.by_plenary.insert(plenary.clone(), new_rooms);
        }
        if let Some(evict) = self.evictor.get() {
            for (room, eviction) in evictions {
                evict(&room, eviction);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn access(room: &str, people: &[(&str, Role)]) -> GroupAccess {
        GroupAccess {
            room: room.parse().unwrap(),
            people: people
                .iter()
                .map(|(l, r)| (LinkId((*l).into()), *r, "#E69F00".to_owned()))
                .collect(),
        }
    }

    #[test]
    fn admits_what_the_plenary_said_and_sends_out_who_it_no_longer_admits() {
        let dir = GroupDirectory::default();
        let seen: Arc<Mutex<Vec<(RoomId, Eviction)>>> = Arc::default();
        let log = Arc::clone(&seen);
        dir.set_evictor(Arc::new(move |room, e| log.lock().unwrap().push((room.clone(), e))));
        let plenary: RoomId = "p".parse().unwrap();
        let (g1, g2): (RoomId, RoomId) = ("p.1.1".parse().unwrap(), "p.1.2".parse().unwrap());
        let link = |s: &str| LinkId(s.into());
        dir.update(
            &plenary,
            vec![
                access("p.1.1", &[("a", Role::Learner), ("f", Role::Facilitator)]),
                access("p.1.2", &[("b", Role::Learner), ("f", Role::Facilitator)]),
            ],
        );
        assert_eq!(dir.admits(&g1, &link("a")).map(|x| x.0), Some(Role::Learner));
        assert_eq!(dir.admits(&g2, &link("a")), None, "a is not in group 2");
        assert_eq!(dir.admits(&g2, &link("f")).map(|x| x.0), Some(Role::Facilitator));
        assert!(seen.lock().unwrap().is_empty());
        // a moves to group 2; b becomes its lead.
        dir.update(
            &plenary,
            vec![
                access("p.1.1", &[("f", Role::Facilitator)]),
                access(
                    "p.1.2",
                    &[("a", Role::Learner), ("b", Role::Facilitator), ("f", Role::Facilitator)],
                ),
            ],
        );
        let got = std::mem::take(&mut *seen.lock().unwrap());
        assert!(got.contains(&(g1.clone(), Eviction::Leave(vec![link("a")]))), "{got:?}");
        assert!(got.contains(&(g2.clone(), Eviction::Rejoin(vec![link("b")]))), "{got:?}");
        // Everyone called back: nobody admitted anywhere, everyone sent out.
        dir.update(&plenary, vec![]);
        assert!(dir.is_empty());
        assert_eq!(dir.admits(&g2, &link("a")), None);
        let got = seen.lock().unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
    }
}
