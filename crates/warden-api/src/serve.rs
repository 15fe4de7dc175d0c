//! The HTTP/1 server behind every listener of `warden serve` (the API and the metrics
//! address): connections come from a [`LimitedListener`], each is served by hyper with
//! a deadline for every request's head, and a stop closes idle connections at once and
//! lets the others finish their answer.
//!
//! axum's own `serve` cannot set hyper's header timeout (it builds its connections
//! without a timer), so a client sending one header byte at a time kept a connection
//! forever; this loop sets it, and tells the listener which connections are busy so that
//! only idle ones are shed when the server is full.

use std::{convert::Infallible, future::Future, io, net::SocketAddr, pin::Pin, task};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::ConnectInfo,
};
use http_body::{Frame, SizeHint};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceExt;

use crate::conn_limit::{Accepted, ConnLimits, InFlight, LimitedListener};

/// Serves `app` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting, closes idle connections, and returns once every connection has closed.
/// Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    limits: ConnLimits,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let header_timeout = limits.header_read_timeout;
    let listener = LimitedListener::new(listener, limits);
    let (stop, stopping) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Shutdown first: under a steady stream of connections an unbiased select could
        // keep taking the ready accept and leave the shutdown future unpolled.
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        tokio::spawn(connection(
            accepted,
            app.clone(),
            header_timeout,
            stopping.clone(),
        ));
    }
    drop(stopping);
    // Each connection sees the change, finishes its request in flight, and closes.
    stop.send_replace(());
    listener.close().await;
    Ok(())
}

/// Serves one connection until it ends, the server stops, or it is shed while idle.
async fn connection(
    accepted: Accepted,
    app: Router,
    header_timeout: std::time::Duration,
    mut stopping: watch::Receiver<()>,
) {
    let Accepted {
        stream,
        peer,
        tracker,
    } = accepted;
    let requests = tracker.clone();
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        let in_flight = requests.begin();
        request
            .extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(peer));
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await.unwrap_or_else(|never| match never {});
            // The connection stays busy until the answer's body is written.
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Tracked {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::trace!(error = %e, "connection ended");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tracker.shed_requested() => {
                if tracker.may_shed() {
                    tracing::debug!(client.ip = %peer.ip(), "closed an idle connection to make room");
                    return;
                }
            }
        }
    }
}

/// An answer's body that keeps its request counted as in flight until it is dropped
/// (hyper drops it once written, or when the client goes away).
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut task::Context<'_>,
    ) -> task::Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
