//! Connection limits, below HTTP: a cap on open connections, a cap per client address,
//! an idle timeout, and room made for new clients when the server is full, so clients
//! that open connections and trickle (or never send) their headers cannot exhaust the
//! server's file descriptors (slowloris) or lock other clients out. The deadline for a
//! request's head is hyper's (see [`crate::serve`]); request-level limits (rate, body
//! size, request time) apply once a request has arrived.
//!
//! # Model
//! - Per address: a connection over [`ConnLimits::max_per_address`] is closed at once.
//!   An IPv6 client is counted by its /64 (the unit an ISP hands out, as the rate limiter
//!   buckets it), so rotating addresses within one prefix gains nothing. Trusted proxies
//!   are exempt (every client behind them shares their address).
//! - In all: at [`ConnLimits::max_connections`], the connection that has waited longest
//!   without a request in flight (idle, or still sending its head) is closed to make
//!   room for the new one. Connections serving a request are never shed; when all of
//!   them are, accepting waits for one to end or go idle. So however many addresses an
//!   attacker holds idle connections from, a new client gets in, and a connection that
//!   is being answered keeps its answer.
//! - A connection on which nothing is read or written for the idle timeout is closed.

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use ipnet::IpNet;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep, sleep},
};

use crate::ratelimit::bucket;

/// Connection limits. Defaults: 4096 connections, 64 per client address (IPv6: per /64),
/// 60 s idle, 10 s to send a request's head.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub idle_timeout: Duration,
    /// Time to send a request's head (request line and headers), from the moment the
    /// server waits for it: after the connection opens, or after the previous answer (so
    /// it also closes kept-alive connections left unused this long).
    pub header_read_timeout: Duration,
    /// Addresses exempt from the per-address cap (trusted proxies).
    pub exempt: Vec<IpNet>,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_per_address: 64,
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            exempt: Vec::new(),
        }
    }
}

/// Open connections per client address (IPv6 per /64).
#[derive(Debug, Default)]
struct PerAddress {
    counts: HashMap<IpAddr, usize>,
}

impl PerAddress {
    /// Counts a connection from `ip` under the key it shares with its neighbours; `None`
    /// when that key is at `cap`.
    fn admit(&mut self, ip: IpAddr, cap: usize) -> Option<IpAddr> {
        let key = bucket(ip);
        let n = self.counts.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(key)
    }

    fn release(&mut self, key: IpAddr) {
        if let Some(n) = self.counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&key);
            }
        }
    }
}

/// One open connection, as [`Open`] tracks it.
struct Entry {
    /// Requests being answered (head read, answer not yet fully written).
    in_flight: usize,
    /// Since when nothing has been in flight (or since the connection opened).
    idle_since: Instant,
    /// Set when the connection was asked to close to make room.
    shed: bool,
    wake: Arc<Notify>,
}

/// Every open connection: which are idle and since when, to pick one to shed.
#[derive(Default)]
struct Open {
    entries: Mutex<HashMap<u64, Entry>>,
    next_id: AtomicU64,
    /// Signalled when a connection goes idle or closes, for an accept waiting for room.
    changed: Notify,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries.lock().expect("open connections")
    }

    /// Asks the connection idle the longest to close, unless one was asked already and
    /// has not closed yet; `false` when none is idle.
    fn shed_oldest_idle(&self) -> bool {
        let mut entries = self.lock();
        if entries.values().any(|e| e.shed) {
            return true;
        }
        let oldest = entries
            .values_mut()
            .filter(|e| e.in_flight == 0)
            .min_by_key(|e| e.idle_since);
        let Some(e) = oldest else {
            return false;
        };
        e.shed = true;
        // `notify_one` keeps the signal if the connection's task is not waiting yet.
        e.wake.notify_one();
        true
    }
}

/// A connection's place in [`Open`]: requests mark it busy; it may be asked to close
/// while idle. Removed when dropped.
pub struct Tracker {
    id: u64,
    open: Arc<Open>,
    wake: Arc<Notify>,
}

/// Marks a request in flight on its connection until dropped (with the answer's body).
pub struct InFlight {
    tracker: Arc<Tracker>,
}

impl Tracker {
    /// A request has arrived on this connection.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        if let Some(e) = self.open.lock().get_mut(&self.id) {
            e.in_flight += 1;
            if e.shed {
                // Too late to close it: let a waiting accept pick another.
                e.shed = false;
                self.open.changed.notify_one();
            }
        }
        InFlight {
            tracker: self.clone(),
        }
    }

    /// Resolves when the server asks this connection to close to make room.
    pub async fn shed_requested(&self) {
        self.wake.notified().await;
    }

    /// Whether the connection may close now: nothing is in flight (a request that
    /// arrived since the shed was asked for keeps it open).
    pub fn may_shed(&self) -> bool {
        self.open
            .lock()
            .get(&self.id)
            .is_none_or(|e| e.in_flight == 0)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let t = &self.tracker;
        if let Some(e) = t.open.lock().get_mut(&t.id) {
            e.in_flight -= 1;
            if e.in_flight == 0 {
                e.idle_since = Instant::now();
            }
        }
        t.open.changed.notify_one();
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
        self.open.changed.notify_one();
    }
}

/// A TCP listener that applies [`ConnLimits`].
pub struct LimitedListener {
    inner: TcpListener,
    total: Arc<Semaphore>,
    per_address: Arc<Mutex<PerAddress>>,
    open: Arc<Open>,
    limits: ConnLimits,
}

/// An accepted connection: its stream (under the limits), peer, and tracker.
pub struct Accepted {
    pub stream: LimitedStream,
    pub peer: SocketAddr,
    pub tracker: Arc<Tracker>,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, limits: ConnLimits) -> Self {
        Self {
            inner,
            total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_address: Arc::default(),
            open: Arc::default(),
            limits,
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Counts a connection from `ip`, unless its address is at its cap; `Some(None)` for
    /// an exempt address.
    fn admit(&self, ip: IpAddr) -> Option<Option<IpAddr>> {
        if self.limits.exempt.iter().any(|n| n.contains(&ip)) {
            return Some(None);
        }
        let mut counts = self.per_address.lock().expect("connection counts");
        counts.admit(ip, self.limits.max_per_address).map(Some)
    }

    /// A place among the open connections: at once if there is room; else once a
    /// connection closes, after the oldest idle one has been asked to (or, when every
    /// connection is busy, once one ends or goes idle).
    async fn room(&self) -> OwnedSemaphorePermit {
        loop {
            if let Ok(permit) = self.total.clone().try_acquire_owned() {
                return permit;
            }
            let changed = self.open.changed.notified();
            if self.open.shed_oldest_idle() {
                tracing::debug!("connection limit reached: closing the oldest idle connection");
            }
            tokio::select! {
                permit = self.total.clone().acquire_owned() => {
                    return permit.expect("the semaphore is never closed");
                }
                () = changed => {}
            }
        }
    }

    /// The next connection under the limits. Cancel-safe between connections.
    pub async fn accept(&self) -> Accepted {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let ip = peer.ip().to_canonical();
            let Some(counted) = self.admit(ip) else {
                tracing::debug!(client.ip = %ip, "connection refused: too many from this address");
                continue; // Dropping the stream closes it.
            };
            // Counted from here, so the address's count is returned whatever happens.
            let counted = Counted {
                key: counted,
                counts: self.per_address.clone(),
            };
            let permit = self.room().await;
            let id = self.open.next_id.fetch_add(1, Ordering::Relaxed);
            let wake = Arc::new(Notify::new());
            self.open.lock().insert(
                id,
                Entry {
                    in_flight: 0,
                    idle_since: Instant::now(),
                    shed: false,
                    wake: wake.clone(),
                },
            );
            let idle = self.limits.idle_timeout;
            let stream = LimitedStream {
                stream,
                idle,
                deadline: Box::pin(sleep(idle)),
                _permit: permit,
                _counted: counted,
            };
            let tracker = Arc::new(Tracker {
                id,
                open: self.open.clone(),
                wake,
            });
            return Accepted {
                stream,
                peer,
                tracker,
            };
        }
    }

    /// Stops listening (new clients are refused, not left waiting in the backlog), then
    /// waits until every connection accepted so far has closed.
    pub async fn close(self) {
        let Self {
            inner,
            total,
            limits,
            ..
        } = self;
        drop(inner);
        let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
        let _all = total.acquire_many(all).await;
    }
}

/// A connection's place in its address's count, given back when dropped.
struct Counted {
    key: Option<IpAddr>,
    counts: Arc<Mutex<PerAddress>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.counts.lock().expect("connection counts").release(key);
        }
    }
}

/// A connection under [`ConnLimits`]: closed when idle, uncounted when dropped.
pub struct LimitedStream {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
    _counted: Counted,
}

impl LimitedStream {
    fn progressed(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    /// `Pending` becomes an error once the connection has been idle too long.
    fn idle_check<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending if self.deadline.as_mut().poll(cx).is_ready() => Poll::Ready(Err(
                io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long"),
            )),
            Poll::Ready(Ok(v)) => {
                self.progressed();
                Poll::Ready(Ok(v))
            }
            other => other,
        }
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.idle_check(cx, poll)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.idle_check(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.idle_check(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_per_address() {
        let mut counts = PerAddress::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Two addresses of one /64 share its cap of 2...
        assert!(counts.admit(ip("2001:db8:1:2::1"), 2).is_some());
        assert!(counts.admit(ip("2001:db8:1:2:ffff::9"), 2).is_some());
        assert_eq!(counts.admit(ip("2001:db8:1:2::3"), 2), None);
        // ...another /64 has its own.
        assert!(counts.admit(ip("2001:db8:1:3::1"), 2).is_some());
        // IPv4 addresses count one by one.
        assert!(counts.admit(ip("203.0.113.7"), 1).is_some());
        assert!(counts.admit(ip("203.0.113.8"), 1).is_some());
        assert_eq!(counts.admit(ip("203.0.113.7"), 1), None);
        // A closed connection gives its place back to its prefix.
        counts.release(bucket(ip("2001:db8:1:2::1")));
        assert!(counts.admit(ip("2001:db8:1:2::42"), 2).is_some());
    }
}
