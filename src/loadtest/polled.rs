//! A connected member's socket, read every [`READ_EVERY`] ticks of its room (100 ms)
//! instead of on each arrival, with the kernel's arrival time of every datagram
//! (`SO_TIMESTAMPNS`).
//!
//! Over loopback the sender pays for waking the receiver: a socket the runtime watches
//! makes every datagram the server sends also wake the generator's thread (an
//! inter-processor interrupt on a VM), and the generator then ran once per forwarded
//! packet. A polled socket is watched by nobody, so arrivals wake nobody; the room's task
//! reads what came since its last tick, and the kernel's timestamps keep the latency and
//! jitter figures those of the arrival, not of the read. A real client's network card
//! does the waking on another machine: this is closer to what the server pays in
//! deployment, not further.

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};

/// Polled sockets are read every this many 20 ms ticks of their room. Each read of a
/// socket ends with one that finds it empty; reading five frames' worth at a time makes
/// that one read in six instead of one in two, and the member's state is warm for all
/// but the first. The server sees the same traffic, and the timestamps make the figures
/// those of the arrivals; the member's peer hears its RTCP and consent answers up to
/// 100 ms late, which its timers (seconds) do not notice.
pub(super) const READ_EVERY: u32 = 5;

/// Asks the kernel to stamp each datagram `socket` receives with its arrival time.
pub(super) fn enable_timestamps(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// One datagram read from a polled socket.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    /// Its length in the buffer.
    pub(super) len: usize,
    /// Who sent it.
    pub(super) from: SocketAddr,
    /// When it arrived (the kernel's stamp), or when it was read if there was none.
    pub(super) at: Instant,
}

/// The clocks read once per tick, to turn the kernel's wall-clock stamps into
/// [`Instant`]s.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clocks {
    wall: SystemTime,
    mono: Instant,
}

impl Clocks {
    /// Now, on both clocks.
    pub(super) fn now() -> Clocks {
        Clocks { wall: SystemTime::now(), mono: Instant::now() }
    }

    /// The instant of a wall-clock stamp; a stamp later than these clocks' reading (a
    /// datagram that came while the sockets were being read, or a stepped wall clock)
    /// counts as that reading.
    fn instant_of(&self, stamp: SystemTime) -> Instant {
        let ago = self.wall.duration_since(stamp).unwrap_or(Duration::ZERO);
        self.mono.checked_sub(ago).unwrap_or(self.mono)
    }
}

/// Reads one datagram into `buf` if there is one, with its arrival time.
pub(super) fn try_recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    clocks: &Clocks,
) -> io::Result<Option<Arrival>> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let msg = match recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(msg) => msg,
        Err(Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let from = msg
        .address
        .and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::V4((*v4).into()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into())))
        })
        .ok_or_else(|| io::Error::other("a datagram without a sender address"))?;
    let stamp = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|m| match m {
            ControlMessageOwned::ScmTimestampns(ts) => {
                let since = Duration::new(ts.tv_sec().max(0) as u64, ts.tv_nsec().max(0) as u32);
                Some(UNIX_EPOCH + since)
            }
            _ => None,
        })
    });
    let at = stamp.map_or(clocks.mono, |s| clocks.instant_of(s));
    Ok(Some(Arrival { len: msg.bytes, from, at }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stamped_datagrams_until_the_socket_is_empty() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        enable_timestamps(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];
        assert!(try_recv(&rx, &mut buf, &Clocks::now()).unwrap().is_none(), "empty");

        // The kernel turns stamping on for the whole host a moment after the first socket
        // asks (deferred work); a datagram that came before is stamped when read. So a
        // few tries, each read 30 ms after it was sent.
        let mut lag = Duration::ZERO;
        let mut clocks = Clocks::now();
        for _ in 0..10 {
            let sent = Instant::now();
            tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            clocks = Clocks::now();
            let got = try_recv(&rx, &mut buf, &clocks).unwrap().expect("the datagram");
            assert_eq!((&buf[..got.len], got.from), (&b"hello"[..], tx.local_addr().unwrap()));
            assert!(got.at + Duration::from_millis(5) >= sent, "stamped before it was sent");
            lag = clocks.mono - got.at;
            if lag >= Duration::from_millis(20) {
                break;
            }
        }
        // Stamped on arrival, not when read 30 ms later.
        assert!(lag >= Duration::from_millis(20), "timed when read: {lag:?}");
        assert!(try_recv(&rx, &mut buf, &clocks).unwrap().is_none(), "read to the end");
    }
}
