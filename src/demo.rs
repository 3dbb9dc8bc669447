//! Ready-to-open join links: one for anyone ([`link`], as the invite API makes them), and
//! a demo room's, printed by `talkstick serve`.

use talkstick_signaling::RoomId;
use talkstick_signaling::protocol::Role;

use crate::token::{Claims, Secret, mint, unix_now};

/// Learner names used for demo links, in order.
pub const LEARNERS: [&str; 8] =
    ["Aino", "Bertil", "Chen", "Dalia", "Emil", "Farah", "Gustav", "Helmi"];

/// One printed link.
#[derive(Debug, Clone)]
pub struct DemoLink {
    /// Who it admits.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The URL to open.
    pub url: String,
}

/// A facilitator link and `learners` learner links for `room`, valid for `hours`.
pub fn links(
    secret: &Secret,
    base: &str,
    room: &RoomId,
    learners: usize,
    hours: u64,
) -> Vec<DemoLink> {
    let exp = unix_now() + hours * 3600;
    let facilitator = ("Facilitator".to_owned(), Role::Facilitator);
    let people = std::iter::once(facilitator).chain((0..learners).map(|i| {
        let name =
            LEARNERS.get(i).map_or_else(|| format!("Learner {}", i + 1), |n| (*n).to_owned());
        (name, Role::Learner)
    }));
    people.map(|(name, role)| link(secret, base, room, name, role, exp)).collect()
}

/// A link for `name` as `role` in `room`, valid until `exp` (Unix seconds).
pub fn link(
    secret: &Secret,
    base: &str,
    room: &RoomId,
    name: String,
    role: Role,
    exp: u64,
) -> DemoLink {
    let claims = Claims { room: room.clone(), name: name.clone(), role, exp };
    let url = format!("{}/?token={}", base.trim_end_matches('/'), mint(secret, &claims));
    DemoLink { name, role, url }
}
