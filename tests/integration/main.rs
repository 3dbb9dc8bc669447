//! Integration tests: a real server on 127.0.0.1:0 and real WebSocket clients.
#![allow(unreachable_pub, missing_docs)]

mod bad_input;
mod binary;
mod breakouts;
mod common;
mod isolation;
mod janus;
mod limits;
mod loadtest;
mod media;
mod native;
mod operations;
mod permissions;
mod session;
mod sim;
mod store;
mod tcp_media;
mod timers;
mod udp_abuse;
mod webrtc_rs;
