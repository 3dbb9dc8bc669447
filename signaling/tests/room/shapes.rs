//! What every message must look like on its own: queue positions, floor fields, and the
//! participants it names.

use std::collections::BTreeSet;

use talkstick_signaling::ParticipantId;
use talkstick_signaling::protocol::{FloorState, FloorView, HandView, ServerMsg};

/// Everyone a message names (a report of past people, `stats`, names no one).
pub(crate) fn mentioned(msg: &ServerMsg) -> Vec<ParticipantId> {
    match msg {
        ServerMsg::Welcome { you, room, .. } => std::iter::once(you.id)
            .chain(room.participants.iter().map(|p| p.id))
            .chain(room.queue.iter().map(|h| h.participant))
            .chain(room.floor.holder)
            .chain(room.floor.offered_to)
            .collect(),
        ServerMsg::ParticipantJoined { participant }
        | ServerMsg::ParticipantUpdated { participant } => vec![participant.id],
        ServerMsg::Speaking { participant, .. } => vec![*participant],
        ServerMsg::Queue { hands } => hands.iter().map(|h| h.participant).collect(),
        ServerMsg::Floor { floor } => floor.holder.into_iter().chain(floor.offered_to).collect(),
        ServerMsg::Reaction { from, .. } => vec![*from],
        ServerMsg::TurnEnded { turn } => vec![turn.holder],
        ServerMsg::Breakouts { breakouts: Some(b) } => {
            b.groups.iter().flat_map(|g| g.members.iter().chain(g.leads.iter())).copied().collect()
        }
        _ => vec![],
    }
}

/// Positions are exactly 1..=n and nobody has two hands.
pub(crate) fn check_hands(hands: &[HandView]) {
    let positions: Vec<u32> = hands.iter().map(|h| h.position).collect();
    let want: Vec<u32> = (1..=hands.len() as u32).collect();
    assert_eq!(positions, want, "queue positions");
    let who: BTreeSet<_> = hands.iter().map(|h| h.participant).collect();
    assert_eq!(who.len(), hands.len(), "a duplicate hand: {hands:?}");
}

/// A floor has at most one holder, and its fields agree with its state.
pub(crate) fn check_floor(f: &FloorView) {
    let ok = match f.state {
        FloorState::Held => f.holder.is_some() && f.turn.is_some() && f.offered_to.is_none(),
        FloorState::Offered => {
            f.offered_to.is_some() && f.holder.is_none() && f.offer_expires_ms.is_some()
        }
        FloorState::Free => f.holder.is_none() && f.offered_to.is_none() && f.open,
        FloorState::Discussion => f.holder.is_none() && f.offered_to.is_none() && f.open,
    };
    assert!(ok, "inconsistent floor {f:?}");
}
