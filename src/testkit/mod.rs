//! Test equipment, compiled only with the `testkit` feature (the crate's own tests,
//! integration tests and benches turn it on; the server binary never has it).
//!
//! - [`sim`]: native clients wired to a forwarder in memory, on simulated time.
//! - Fault injection ([`arm_fault_injection`]): a way to make the media code panic, for
//!   tests of failure isolation.

pub mod sim;

use std::sync::atomic::Ordering;

use crate::media::forwarder::FAULT_INJECTION;

/// Arms fault injection in this process: from then on, an audio offer containing
/// `talkstick-inject-panic` makes the room's media code panic.
pub fn arm_fault_injection() {
    FAULT_INJECTION.store(true, Ordering::Relaxed);
}
