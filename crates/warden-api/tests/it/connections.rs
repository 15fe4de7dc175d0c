//! Connection limits against real sockets on 127.0.0.1: a request head trickled byte by
//! byte is cut off at the header deadline; a server whose every connection is held idle
//! by other addresses still serves a new client, never by cutting an answer; a stop
//! closes idle connections and lets answers finish.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use axum::{Router, routing::get};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
    time::{Instant, timeout},
};
use warden_api::conn_limit::ConnLimits;

/// Serves a router answering `GET /healthz` behind `limits`; returns its address.
async fn spawn(limits: ConnLimits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/healthz", get(|| async { "up" }));
    tokio::spawn(warden_api::serve::serve(
        listener,
        limits,
        app,
        std::future::pending(),
    ));
    addr
}

/// A connection to `server` from the loopback address `from` (all of 127.0.0.0/8 is
/// local, so each stands for another client).
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes `stream`; `None` if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}

/// `GET /healthz` on a fresh connection from 127.0.0.1: the status line, or `None` when
/// no answer came within 5 s.
async fn healthz(server: SocketAddr) -> Option<String> {
    let mut s = connect_from("127.0.0.1", server).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    let raw = String::from_utf8_lossy(&raw);
    raw.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_off_at_the_header_deadline() {
    let addr = spawn(ConnLimits {
        idle_timeout: Duration::from_secs(2),
        header_read_timeout: Duration::from_millis(500),
        ..ConnLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();
    // One byte every 100 ms never leaves the connection idle, but the head never ends.
    let (mut read, mut write) = s.into_split();
    let trickle = tokio::spawn(async move {
        loop {
            if write.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = timeout(Duration::from_secs(8), async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "a trickled head kept its connection open for 8 s"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_server_full_of_idle_connections_from_many_addresses_still_serves_a_new_client() {
    let addr = spawn(ConnLimits {
        max_connections: 4,
        max_per_address: 2,
        idle_timeout: Duration::from_secs(60),
        ..ConnLimits::default()
    })
    .await;
    // Two addresses, each within its own cap, hold every connection without a request.
    let mut held = Vec::new();
    for from in ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"] {
        held.push(connect_from(from, addr).await);
    }
    assert_eq!(
        healthz(addr).await.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "a new client was locked out by idle connections"
    );
    // The connection that had waited longest without a request made room.
    assert!(
        closed_within(&mut held[0], Duration::from_secs(5))
            .await
            .is_some(),
        "the oldest idle connection is still open"
    );
}

#[tokio::test]
async fn a_stop_closes_idle_connections_lets_answers_finish_and_refuses_new_clients() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (app, mut in_handler, release) = slow_app();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(warden_api::serve::serve(
        listener,
        ConnLimits::default(),
        app,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    in_handler.recv().await.unwrap();
    stop.send(()).unwrap();
    assert!(
        closed_within(&mut idle, Duration::from_secs(5))
            .await
            .is_some(),
        "an idle connection outlived the stop"
    );
    // The answer in flight still arrives, then the server is done.
    answered_after(release, &mut busy).await;
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

/// A router whose `GET /slow` signals `entered` and answers "done" once `release` fires
/// (the first call only; later calls answer at once), and `GET /healthz`.
fn slow_app() -> (
    Router,
    tokio::sync::mpsc::Receiver<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(Some(released)));
    let (entered, in_handler) = tokio::sync::mpsc::channel::<()>(1);
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let released = released.lock().unwrap().take();
                let entered = entered.clone();
                async move {
                    let _ = entered.send(()).await;
                    if let Some(r) = released {
                        let _ = r.await;
                    }
                    "done"
                }
            }),
        )
        .route("/healthz", get(|| async { "up" }));
    (app, in_handler, release)
}

#[tokio::test]
async fn a_connection_being_answered_is_never_shed_for_a_new_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (app, mut in_handler, release) = slow_app();
    let limits = ConnLimits {
        max_connections: 1,
        ..ConnLimits::default()
    };
    tokio::spawn(warden_api::serve::serve(
        listener,
        limits,
        app,
        std::future::pending(),
    ));
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    in_handler.recv().await.unwrap();
    // The server is full with a busy connection: the new client waits for room...
    let waiting = tokio::spawn(healthz(addr));
    // (On this one-thread runtime, yielding lets the client connect and the server's
    // accept loop look for room before the answer is released.)
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    // ...and the busy one keeps its answer.
    answered_after(release, &mut busy).await;
    assert_eq!(waiting.await.unwrap().as_deref(), Some("HTTP/1.1 200 OK"));
}

/// Releases the slow handler and asserts its whole answer reaches `busy`.
async fn answered_after(release: tokio::sync::oneshot::Sender<()>, busy: &mut TcpStream) {
    release.send(()).unwrap();
    let mut raw = Vec::new();
    timeout(Duration::from_secs(5), busy.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&raw).ends_with("done"));
}
