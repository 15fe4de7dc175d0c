//! Connection limits, below HTTP: a cap on open connections, a cap per client address,
//! and an idle timeout, so clients that open connections and trickle (or never send)
//! their headers cannot exhaust the server's file descriptors (slowloris). Request-level
//! limits (rate, body size, request time) apply once a request has arrived.
//!
//! A connection over the per-address cap is closed at once; over the total cap, accepting
//! waits for a connection to end. A connection on which nothing is read or written for
//! the idle timeout is closed. Trusted proxies are exempt from the per-address cap (every
//! client behind them shares their address).

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::serve::Listener;
use ipnet::IpNet;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep, sleep},
};

/// Connection limits. Defaults: 4096 connections, 64 per client address, 60 s idle.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub idle_timeout: Duration,
    /// Addresses exempt from the per-address cap (trusted proxies).
    pub exempt: Vec<IpNet>,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_per_address: 64,
            idle_timeout: Duration::from_secs(60),
            exempt: Vec::new(),
        }
    }
}

type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// A TCP listener that applies [`ConnLimits`].
pub struct LimitedListener {
    inner: TcpListener,
    total: Arc<Semaphore>,
    per_address: Counts,
    limits: ConnLimits,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, limits: ConnLimits) -> Self {
        Self {
            inner,
            total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_address: Counts::default(),
            limits,
        }
    }

    /// Counts a connection from `ip`, unless its address is at its cap.
    fn admit(&self, ip: IpAddr) -> Option<Option<IpAddr>> {
        if self.limits.exempt.iter().any(|n| n.contains(&ip)) {
            return Some(None);
        }
        let mut counts = self.per_address.lock().expect("connection counts");
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.limits.max_per_address {
            return None;
        }
        *n += 1;
        Some(Some(ip))
    }
}

impl Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let permit = self
                .total
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let ip = addr.ip().to_canonical();
            let Some(counted) = self.admit(ip) else {
                tracing::debug!(client.ip = %ip, "connection refused: too many from this address");
                continue; // Dropping the stream closes it.
            };
            let idle = self.limits.idle_timeout;
            let stream = LimitedStream {
                stream,
                idle,
                deadline: Box::pin(sleep(idle)),
                _permit: permit,
                counted,
                counts: self.per_address.clone(),
            };
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection under [`ConnLimits`]: closed when idle, uncounted when dropped.
pub struct LimitedStream {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
    counted: Option<IpAddr>,
    counts: Counts,
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

impl Drop for LimitedStream {
    fn drop(&mut self) {
        if let Some(ip) = self.counted {
            let mut counts = self.counts.lock().expect("connection counts");
            if let Some(n) = counts.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&ip);
                }
            }
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
