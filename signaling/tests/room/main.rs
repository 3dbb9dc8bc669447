//! Integration tests of the room's public API, on passed-in time.
//!
//! - `join`: welcome, identity, resume, time-outs, leaving.
//! - `queue`: hands, order policies, notes, facilitator edits.
//! - `floor`: offers, accept / decline / expiry, grant, yield, revoke, next, discussion.
//! - `timing`: time limits, pause cue, auto-advance.
//! - `media`: reactions, gates, muting.
//! - `facilitation`: facilitator-only actions, refusals, settings, statistics.
//! - `props`, `model`, `mirror`, `shapes`: random operation sequences against the room's
//!   invariants.

mod breakouts;
mod chat;
mod common;
mod facilitation;
mod floor;
mod join;
mod media;
mod mirror;
mod model;
mod props;
mod queue;
mod report;
mod shapes;
mod timing;
