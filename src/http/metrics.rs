//! Prometheus metrics (`/metrics`) and readiness (`/readyz`).
//!
//! Why most metrics are read at scrape time: the server already counts what matters
//! where it happens (the UDP receive loops, the forwarders, the store's writer, the
//! registry), with plain atomics on the hot path. A scrape copies those counters into
//! the `metrics` registry and renders it, so forwarding a packet costs nothing more
//! than it did. Only events with no counter of their own are recorded as they happen,
//! through the `metrics` macros: joins (with their time), signaling messages by type,
//! errors by code, first audio after an offer. Without an installed recorder (tests that
//! run the server in-process) those macros do nothing.
//!
//! `/healthz` says the process is alive; `/readyz` says it should get new people: 503
//! while draining or while the session store cannot write.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// Installs the process-wide recorder; returns the handle that renders it.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])?
        .install_recorder()?;
    Ok(handle)
}

/// Every counter in a JSON object of counters, as one labelled Prometheus counter.
fn counters(name: &'static str, label: &'static str, snapshot: &serde_json::Value) {
    if let Some(map) = snapshot.as_object() {
        for (key, value) in map {
            if let Some(n) = value.as_u64() {
                counter!(name, label => key.clone()).absolute(n);
            }
        }
    }
}

/// `GET /metrics`: the Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = state.metrics.as_ref() else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled in this process").into_response();
    };
    gauge!("talkstick_rooms").set(state.registry.room_count() as f64);
    // People in rooms (present or within their grace period): a person in a breakout
    // group is counted in the group's room and, still, in their plenary.
    let (mut plenaries, mut groups) = (0, 0);
    for (room, people) in state.registry.rooms() {
        *(if room.is_group() { &mut groups } else { &mut plenaries }) += people;
    }
    gauge!("talkstick_participants", "room" => "plenary").set(plenaries as f64);
    gauge!("talkstick_participants", "room" => "group").set(groups as f64);
    gauge!("talkstick_breakout_groups").set(state.registry.directory().len() as f64);
    gauge!("talkstick_connections").set(state.sessions.running.load(Ordering::Relaxed) as f64);
    gauge!("talkstick_draining").set(f64::from(u8::from(state.draining())));
    if let Some(m) = state.registry.media() {
        let states = m.peer_states.get();
        for (state, transport, n) in [
            ("connecting", "", states.connecting),
            ("connected", "udp", states.udp),
            ("connected", "tcp", states.tcp),
            ("connected", "relayed", states.relayed),
        ] {
            gauge!("talkstick_media_peers", "state" => state, "transport" => transport)
                .set(n as f64);
        }
        gauge!("talkstick_media_tcp_connections").set(m.tcp.len() as f64);
        counters("talkstick_udp_datagrams_total", "what", &m.counters.snapshot());
        counters("talkstick_packets_total", "what", &m.forwarding.snapshot());
    }
    if let Some(store) = state.registry.store() {
        let h = store.health();
        counter!("talkstick_store_commits_total").absolute(h.commits.load(Ordering::Relaxed));
        counter!("talkstick_store_entries_total").absolute(h.entries.load(Ordering::Relaxed));
        counter!("talkstick_store_syncs_total").absolute(h.syncs.load(Ordering::Relaxed));
        counter!("talkstick_store_faults_total").absolute(h.faults.load(Ordering::Relaxed));
        gauge!("talkstick_store_failing")
            .set(f64::from(u8::from(h.failing.load(Ordering::Relaxed))));
    }
    if let Some((cpu, rss)) = process_usage() {
        counter!("process_cpu_seconds_total").absolute(cpu as u64);
        gauge!("process_cpu_seconds").set(cpu);
        gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}

/// `GET /readyz`: 200 while the server takes new people, 503 (with why) otherwise.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let mut why = Vec::new();
    if state.draining() {
        why.push("draining");
    }
    if state.registry.store().is_some_and(|s| s.health().failing.load(Ordering::Relaxed)) {
        why.push("the session store cannot write");
    }
    if why.is_empty() {
        Json(serde_json::json!({ "ready": true })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "ready": false, "why": why })))
            .into_response()
    }
}

/// CPU seconds (user + system) and resident bytes of this process, from `/proc`.
fn process_usage() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // The kernel's clock tick is 100 Hz on every Linux this runs on.
    Some((ticks as f64 / 100.0, rss_kb * 1024))
}
