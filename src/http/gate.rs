//! How many connections may wait to join: a connection that has not joined holds a task,
//! a socket and buffers for up to the join timeout, and costs nothing to open. So they
//! are counted, in total and per source address, and an upgrade over either cap is
//! refused with 503 before any WebSocket exists.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;

/// Connections waiting to join, from everywhere.
pub const MAX_WAITING: usize = 1024;
/// Connections waiting to join from one address (a classroom behind one NAT joins within
/// a few seconds of each other, well under this).
pub const MAX_WAITING_PER_ADDRESS: usize = 64;

/// The count of connections waiting to join.
#[derive(Debug, Default)]
pub struct JoinGate {
    total: AtomicUsize,
    by_address: DashMap<IpAddr, usize>,
}

/// A place in the gate, given back when dropped (joined, refused or gone).
#[derive(Debug)]
pub struct Waiting {
    gate: Arc<JoinGate>,
    ip: IpAddr,
}

impl JoinGate {
    /// A place for a connection from `ip`, or `None` when either cap is reached.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Waiting> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let mut n = self.by_address.entry(ip).or_insert(0);
        if *n >= MAX_WAITING_PER_ADDRESS {
            drop(n);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        *n += 1;
        Some(Waiting { gate: Arc::clone(self), ip })
    }

    /// Connections waiting now.
    pub fn waiting(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.gate.by_address.remove_if_mut(&self.ip, |_, n| {
            *n -= 1;
            *n == 0
        });
        self.gate.total.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_total_and_gives_places_back() {
        let gate = Arc::new(JoinGate::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mut held: Vec<Waiting> =
            (0..MAX_WAITING_PER_ADDRESS).map(|_| gate.enter(a).unwrap()).collect();
        assert!(gate.enter(a).is_none(), "one address is capped");
        held.pop();
        assert!(gate.enter(a).is_some(), "a place given back is free again");
        // Other addresses fill the rest, up to the total.
        let others =
            (0..=MAX_WAITING as u32).map(|k| IpAddr::from((0x0B00_0000 + k / 8).to_be_bytes()));
        let more: Vec<Option<Waiting>> = others.map(|ip| gate.enter(ip)).collect();
        assert_eq!(gate.waiting(), MAX_WAITING);
        assert!(more.last().unwrap().is_none(), "capped in total");
        drop(more);
        drop(held);
        assert_eq!(gate.waiting(), 0);
        assert!(gate.by_address.is_empty(), "no address is remembered once it has none");
    }
}
