//! The `natter` command: parses the command line, starts tracing and calls into the library.

use clap::{Parser, Subcommand};
use natter::config::Overrides;

/// jemalloc, with background threads that return freed memory to the system within seconds
/// (`dirty_decay_ms`, 10 s): after a burst of uploads glibc's malloc kept about 100 MiB it
/// no longer used, because its mmap threshold rises with every large buffer freed and
/// later large buffers then come from arenas it does not shrink.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "natter", version, about = "Self-hosted real-time chat server")]
struct Cli {
    /// Global: settings may come before or after the subcommand.
    #[command(flatten)]
    settings: Overrides,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web client, the API and the WebSocket (the default).
    Serve,
    /// Create the database (if needed) and apply migrations, then exit.
    Migrate,
    /// Account chores.
    #[command(subcommand)]
    Admin(Admin),
    /// Drive a running server like real clients and report throughput, loss and latency.
    Bench(Box<natter::bench::BenchArgs>),
    /// Serve a bare broadcast (no storage, no checks) for `natter bench` to measure this
    /// machine's ceiling with: see docs/performance.md.
    BenchBaseline {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:18081")]
        bind: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum Admin {
    /// Create a user; the password is read from a prompt or standard input.
    CreateUser {
        /// The new user's name (unique, ignoring case).
        name: String,
        /// Make the user a server administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password (read from a prompt or standard input) and sign out their sessions.
    ResetPassword {
        /// The user's name.
        name: String,
    },
    /// Prints the one-time link that makes the first admin (while the server has none).
    SetupLink,
    /// Makes a new master key and wraps every room and file key with it (the data they seal
    /// is not rewritten). Stop every node first; give them the new key before starting them.
    RotateMasterKey,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.settings.load()?;
    init_tracing(&config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.bind).await?;
            let addr = listener.local_addr()?;
            let scheme = if config.tls() { "https" } else { "http" };
            let origin = match &config.public_url {
                Some(url) => url.to_string(),
                None => format!("{scheme}://{addr}"),
            };
            let app = natter::app::App::start(config).await?;
            tracing::info!("Natter is listening: open {scheme}://{addr}");
            natter::admin::announce_setup(app.setup_token.as_deref(), &origin);
            natter::app::serve(listener, app, natter::app::shutdown_signal()).await
        }
        Command::Migrate => {
            let store = natter::store::open(&config).await?;
            store.close().await;
            // The URL may hold a password: name only the backend.
            let url = config.database_url();
            let kind = url.split(':').next().unwrap_or("database");
            println!("database ready ({kind})");
            Ok(())
        }
        Command::Admin(Admin::CreateUser { name, admin }) => {
            natter::admin::create_user(config, &name, admin).await
        }
        Command::Bench(args) => natter::bench::main(*args).await,
        Command::BenchBaseline { bind } => natter::bench::baseline::serve(bind).await,
        Command::Admin(Admin::SetupLink) => natter::admin::setup_link(config).await,
        Command::Admin(Admin::RotateMasterKey) => natter::admin::rotate_master_key(config).await,
        Command::Admin(Admin::ResetPassword { name }) => {
            natter::admin::reset_password(config, &name).await
        }
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NATTER_LOG")
        .unwrap_or_else(|_| "natter=info,tower_http=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
