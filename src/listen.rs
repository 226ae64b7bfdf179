//! Accepting connections, with the limits that keep one client from taking them all: a cap
//! on open connections per client address, a deadline for the TLS handshake and for each
//! request's headers (which also ends idle keep-alive connections), a deadline for each
//! wait on a request's body (a stalled body fails with `408`), TCP_NODELAY, and a
//! rate-limited warning when `accept` fails (the descriptor limit reached, above all).
//! Connections speak HTTP/1.1 with upgrades (WebSockets); on shutdown each finishes the
//! request in hand and closes; whatever is still open when the drain time is up is cut.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::Service as _;
use tower_http::timeout::RequestBodyTimeout;

/// How one listener treats its connections.
#[derive(Clone)]
pub struct Limits {
    /// Open connections per client address (IPv6 by its /64); 0 = unlimited.
    pub per_address: u32,
    /// Addresses the per-address cap does not apply to (trusted reverse proxies).
    pub exempt: Vec<IpAddr>,
    /// Deadline for the TLS handshake and for each request's headers.
    pub header_timeout: Duration,
    /// The longest a request's body may go without a byte arriving.
    pub body_timeout: Duration,
    /// How long shutdown lets open requests finish.
    pub drain: Duration,
}

/// Serves `router` on `listener` (over TLS when `tls` is set) until `shutdown` resolves,
/// then stops accepting and lets each connection finish its request, for at most
/// `limits.drain`. Upgraded connections (WebSockets) are the application's to close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let open = Arc::new(OpenConnections::default());
    // A JoinSet, not a tracker: connections still open when the drain ends are aborted, so
    // none keeps the application state (and the committer) alive past shutdown.
    let mut connections = tokio::task::JoinSet::new();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (mut failures, mut refusals) = (Throttled::default(), Throttled::default());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) above all: the connection stays in the
                // backlog, so pause instead of spinning, and say so (not on every attempt).
                metrics::counter!(crate::metrics::ACCEPT_ERRORS).increment(1);
                failures.warn(|suppressed| {
                    tracing::warn!(error = %e, suppressed,
                        "cannot accept connections (at the open-file limit? raise `ulimit -n` \
                         or lower max_connections_per_address)")
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = open.take(peer.ip(), &limits) else {
            metrics::counter!(crate::metrics::CONNECTIONS_REFUSED).increment(1);
            refusals.warn(|suppressed| {
                tracing::warn!(address = %peer.ip(), limit = limits.per_address, suppressed,
                    "refusing a connection: this address has max_connections_per_address open")
            });
            drop(tcp);
            continue;
        };
        while connections.try_join_next().is_some() {}
        let _ = tcp.set_nodelay(true);
        let service = match make.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let (tls, stopping, header_timeout) =
            (tls.clone(), stopping.clone(), limits.header_timeout);
        let service = RequestBodyTimeout::new(service, limits.body_timeout);
        connections.spawn(async move {
            let io = Counted {
                io: tcp,
                _slot: slot,
            };
            match tls {
                None => serve_connection(io, service, header_timeout, stopping).await,
                Some(tls) => {
                    let handshake = tokio::time::timeout(header_timeout, tls.accept(io));
                    if let Ok(Ok(io)) = handshake.await {
                        serve_connection(io, service, header_timeout, stopping).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.drain, drained).await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections that did not finish in time"
        );
        connections.shutdown().await;
    }
}

/// What each connection serves: the router, with the peer's address for `ConnectInfo`, and
/// request bodies that fail when they stall (`http::error::body_timed_out` tells).
type PeerService = RequestBodyTimeout<
    axum::middleware::AddExtension<Router, axum::extract::ConnectInfo<SocketAddr>>,
>;

async fn serve_connection<I>(
    io: I,
    service: PeerService,
    header_timeout: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopping.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Open connections by client address.
#[derive(Default)]
struct OpenConnections {
    // std Mutex: held for one map update per connection opened or closed, never across an
    // await.
    by_address: Mutex<HashMap<IpAddr, u32>>,
}

impl OpenConnections {
    /// A slot for one more connection from `ip`, unless it has `per_address` open already.
    fn take(self: &Arc<Self>, peer: IpAddr, limits: &Limits) -> Option<Slot> {
        // IPv4 peers of a `[::]` listener arrive as `::ffff:a.b.c.d`.
        let peer = peer.to_canonical();
        let ip = crate::chat::client_address(peer);
        if limits.per_address == 0 || limits.exempt.iter().any(|e| e.to_canonical() == peer) {
            return Some(Slot { open: None, ip });
        }
        let mut by_address = self.by_address.lock().expect("connections lock");
        let open = by_address.entry(ip).or_default();
        if *open >= limits.per_address {
            return None;
        }
        *open += 1;
        Some(Slot {
            open: Some(self.clone()),
            ip,
        })
    }
}

/// One counted connection; the count goes down when it is dropped (with the socket, which
/// an upgraded WebSocket keeps until it closes).
struct Slot {
    open: Option<Arc<OpenConnections>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(open) = &self.open else { return };
        let mut by_address = open.by_address.lock().expect("connections lock");
        if let Some(n) = by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_address.remove(&self.ip);
            }
        }
    }
}

/// A socket that holds its [`Slot`] for as long as it lives.
struct Counted {
    io: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// At most one warning per [`Throttled::EVERY`], counting the ones left out.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    const EVERY: Duration = Duration::from_secs(10);

    fn warn(&mut self, log: impl FnOnce(u64)) {
        if self.last.is_some_and(|last| last.elapsed() < Self::EVERY) {
            self.suppressed += 1;
            return;
        }
        log(self.suppressed);
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}
