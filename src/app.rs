//! Wiring: [`App::start`] opens the store and builds the hub, bus and chat service;
//! [`serve`] runs the router on an already-bound listener until the shutdown future
//! resolves, then drains: stop accepting, close every socket with "going away", let pending
//! commits finish, close the store.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::bus::redis::RedisBus;
use crate::bus::{Bus, LocalBus};
use crate::chat::{Chat, retention};
use crate::config::Config;
use crate::hub::Hub;
use crate::listen::Limits;
use crate::protocol::close;

/// What every handler and connection shares.
#[derive(Clone)]
pub struct AppState {
    pub chat: Arc<Chat>,
    pub hub: Arc<Hub>,
    pub config: Arc<Config>,
    /// Live WebSocket connections, awaited on shutdown.
    pub tasks: TaskTracker,
    /// Set when this server terminates TLS itself.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// A started application: its state and the background tasks to stop on shutdown.
pub struct App {
    pub state: AppState,
    /// While the server has no admin: the one-time setup token, for `natter serve` to log.
    pub setup_token: Option<String>,
    committer: JoinHandle<()>,
    pruner: JoinHandle<()>,
    collector: JoinHandle<()>,
    liveness: JoinHandle<()>,
    reloader: JoinHandle<()>,
    sealer: JoinHandle<()>,
}

impl App {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        crate::metrics::handle(); // install the recorder before anything records
        let store = crate::store::open(&config).await?;
        let hub = Arc::new(Hub::new(config.outbound_queue));
        // In a cluster every node has a name: its own events come back from Redis marked so.
        let node = config.redis_url.as_ref().map(|_| {
            config
                .node_id
                .clone()
                .unwrap_or_else(|| crate::domain::UserId::generate().to_string())
        });
        let bus: Arc<dyn Bus> = match (&config.redis_url, &node) {
            (Some(url), Some(node)) => {
                tracing::info!(node = %node, "cluster mode: fan-out through Redis");
                RedisBus::start(
                    url,
                    config.redis_ca_cert.as_deref(),
                    hub.clone(),
                    node.clone(),
                    store.keyring().bus(),
                )?
            }
            _ => Arc::new(LocalBus::new(hub.clone())),
        };
        let files = crate::chat::uploads::Files::open(&config, true, store.keyring().clone())?;
        let (mut chat, committer) = Chat::new(store, bus, config.clone(), files);
        if let (Some(url), Some(node)) = (&config.redis_url, &node) {
            chat.board = Some(
                crate::bus::redis::PresenceBoard::start(
                    url,
                    config.redis_ca_cert.as_deref(),
                    node.clone(),
                )
                .await?,
            );
        }
        chat.load_settings()
            .await
            .map_err(|e| anyhow::anyhow!("reading the server settings: {e}"))?;
        // A server without an admin makes its one-time setup token now (every node of a
        // cluster shares the first one made); `natter serve` logs the link.
        let setup_token = chat
            .setup_token()
            .await
            .map_err(|e| anyhow::anyhow!("making the setup token: {e}"))?;
        let chat = Arc::new(chat);
        // Settings changed on any node are read again here.
        let mut changes = hub.watch_settings();
        let reader = chat.clone();
        // Also once a minute: an announcement lost on the bus (a full outbox, a Redis outage)
        // leaves a node behind for a minute at most.
        let reloader = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            every.tick().await;
            loop {
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    _ = every.tick() => {}
                }
                if let Err(e) = reader.load_settings().await {
                    tracing::warn!(error = %e, "reading the server settings");
                }
            }
        });
        let pruner = tokio::spawn(retention::run(chat.clone()));
        let collector = tokio::spawn(crate::chat::uploads::run_collector(chat.clone()));
        let liveness = tokio::spawn(crate::chat::run_liveness(chat.clone()));
        // Seals what an earlier version (or encryption turned off) stored in plain text.
        let sealer = tokio::spawn(crate::chat::sealing::run(chat.store.clone()));
        let tls = crate::tls::server_config(&config)?;
        let state = AppState {
            chat,
            hub,
            config,
            tasks: TaskTracker::new(),
            tls,
        };
        Ok(Self {
            state,
            setup_token,
            committer,
            pruner,
            collector,
            liveness,
            reloader,
            sealer,
        })
    }
}

/// How long shutdown waits for sockets to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` resolves, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let App {
        state,
        committer,
        pruner,
        collector,
        liveness,
        reloader,
        sealer,
        ..
    } = app;
    let router = crate::http::router(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let hub = state.hub.clone();
    let tasks = state.tasks.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        // Upgraded sockets are not tracked by the HTTP server: close them ourselves.
        hub.close_all(close::GOING_AWAY);
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let limits = Limits {
        per_address: state.config.max_connections_per_address,
        exempt: state.config.trusted_proxies.clone(),
        header_timeout: Duration::from_secs(state.config.http_header_timeout_secs),
        body_timeout: Duration::from_secs(state.config.http_body_timeout_secs),
        drain: DRAIN_TIMEOUT,
    };
    if let Some(bind) = state
        .config
        .http_redirect_bind
        .filter(|_| state.tls.is_some())
    {
        // Config validation requires it; a Config built in code may still lack it.
        let origin = state.config.public_url.clone().context(
            "http_redirect_bind needs public_url: the only place the redirect listener sends browsers",
        )?;
        let redirect = TcpListener::bind(bind).await?;
        tracing::info!(%bind, %origin, "plain HTTP here redirects to HTTPS");
        let done = stopped(stop_rx.clone());
        let app = crate::http::redirect_router(origin);
        tokio::spawn(crate::listen::serve(
            redirect,
            app,
            None,
            limits.clone(),
            done,
        ));
    }
    let tls = state.tls.clone();
    crate::listen::serve(listener, router, tls, limits, stopped(stop_rx.clone())).await;
    tasks.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    pruner.abort();
    collector.abort();
    liveness.abort();
    reloader.abort();
    sealer.abort();
    // The last handle to the chat service drops here; the committer then commits what is
    // queued and ends.
    let chat = state.chat.clone();
    drop(state);
    let store = chat.store.clone();
    drop(chat);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, committer).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
