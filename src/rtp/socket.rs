//! [`DatagramSocket`]: a non-blocking UDP socket that the runtime watches for reads only.
//!
//! Tokio's own `UdpSocket` registers for writability too. On Linux every datagram a
//! socket sends wakes its write watchers when the buffer is released (on loopback, at
//! once), so each send also queued an event that the next `epoll_wait` had to collect and
//! the runtime to dispatch, for a wake-up nobody waits for: media sockets never wait to
//! write (a datagram that does not fit is lost, as on a real network). Watching reads only
//! leaves that event out; every media socket of the server, the baseline relay and the
//! load generator is one of these.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{Context, Poll, ready};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Receive buffer asked of the kernel for a media socket (it caps the request at
/// `net.core.rmem_max`): 4 MiB holds about 100 ms of 40,000 audio packets a second, so a
/// moment without CPU (another process, a busy room) delays datagrams instead of dropping
/// them. The default (~208 KiB) holds about 5 ms of that.
pub const RECV_BUFFER: usize = 4 << 20;

/// Asks for a [`RECV_BUFFER`] receive buffer on `socket`; returns the size the kernel
/// granted (it reports twice the usable size).
pub fn enlarge_recv_buffer(socket: &impl AsFd) -> io::Result<usize> {
    let s = socket2::SockRef::from(socket);
    s.set_recv_buffer_size(RECV_BUFFER)?;
    s.recv_buffer_size()
}

/// A UDP socket for datagrams: reads wait for the runtime, writes never wait.
#[derive(Debug)]
pub struct DatagramSocket {
    fd: AsyncFd<std::net::UdpSocket>,
}

impl DatagramSocket {
    /// Binds `addr` and registers the socket with the current runtime for reads.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        // Registering an arbitrary `AsRawFd` is deprecated because a type could close or
        // swap its descriptor while registered. This socket owns its descriptor, it is
        // never handed out mutably, and it closes only when the `AsyncFd` drops.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(socket, Interest::READABLE)?;
        Ok(DatagramSocket { fd })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// Sends `buf` to `to` now, or fails (`WouldBlock` when the buffer is full).
    pub fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.fd.get_ref().send_to(buf, to)
    }

    /// Reads one datagram into `buf`, or registers `cx` to be woken when one arrives.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            let mut ready = ready!(self.fd.poll_read_ready(cx))?;
            // An empty socket clears the readiness, and the next poll registers `cx`.
            if let Ok(read) = ready.try_io(|fd| fd.get_ref().recv_from(buf)) {
                return Poll::Ready(read);
            }
        }
    }

    /// Stops watching the socket and hands it back as a plain non-blocking socket.
    pub fn into_std(self) -> std::net::UdpSocket {
        self.fd.into_inner()
    }

    /// Waits for one datagram and reads it into `buf`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }
}

impl AsFd for DatagramSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_wait_for_a_datagram_and_writes_go_out_at_once() {
        let a = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let b = DatagramSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 64];
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(b.poll_recv_from(&mut cx, &mut buf).is_pending(), "nothing sent yet");

        for msg in [&b"one"[..], b"two"] {
            assert_eq!(a.try_send_to(msg, b_addr).unwrap(), msg.len());
        }
        for want in [&b"one"[..], b"two"] {
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(5), b.recv_from(&mut buf));
            let (n, from) = read.await.expect("the datagram arrives").unwrap();
            assert_eq!((&buf[..n], from), (want, a_addr));
        }
        assert!(b.poll_recv_from(&mut cx, &mut buf).is_pending(), "both were read");
    }
}
