//! TLS between a node and PostgreSQL and Redis, for real: the test makes a certificate
//! authority and a server certificate, starts a PostgreSQL (as the `postgres` user, through
//! `runuser`) and a Redis of its own that speak only TLS with them, and runs two nodes over
//! them with `sslmode=verify-full` and `rediss://` trusting that authority: a message sent on
//! one node reaches the other through Redis. A plain connection to either server is refused,
//! and a node that does not trust the authority does not start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::cluster::{TEST_MASTER_KEY, free_port};
use crate::helpers::*;

/// A certificate authority and a server certificate it signed for `localhost` and 127.0.0.1,
/// as PEM files in `dir`.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let certs = Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    std::fs::write(&certs.ca, ca.pem()).unwrap();
    std::fs::write(&certs.cert, server.pem()).unwrap();
    std::fs::write(&certs.key, key.serialize_pem()).unwrap();
    certs
}

/// The newest PostgreSQL server binaries Debian installed.
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Runs a command as the `postgres` user (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .expect("runuser runs")
}

/// A PostgreSQL server of the test's own that takes TLS connections only.
struct TlsPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsPostgres {
    fn start(certs: &Certs) -> Option<TlsPostgres> {
        let bin = pg_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("natter-pg-tls")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let chown = |path: &Path| {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(path)
                .status()
                .unwrap();
        };
        chown(dir.path());
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::copy(&certs.cert, data.join("server.crt")).unwrap();
        std::fs::copy(&certs.key, data.join("server.key")).unwrap();
        let port = free_port();
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\n",
            dir.path().display()
        );
        let mut existing = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        existing.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), existing).unwrap();
        // TLS or nothing over TCP.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        chown(&data);
        Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key"))
            .status()
            .unwrap();
        let log = dir.path().join("log");
        let out = as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(TlsPostgres {
            bin,
            data,
            port,
            _dir: dir,
        })
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

/// A Redis server of the test's own that speaks TLS only.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    fn start(certs: &Certs) -> TlsRedis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--tls-cert-file")
            .arg(&certs.cert)
            .arg("--tls-key-file")
            .arg(&certs.key)
            .arg("--tls-ca-cert-file")
            .arg(&certs.ca)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsRedis { child, port }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn nodes_reach_postgres_and_redis_over_verified_tls_only() {
    let test = "links::nodes_reach_postgres_and_redis_over_verified_tls_only";
    if pg_bin().is_none() || Command::new("runuser").arg("--help").output().is_err() {
        skip(
            test,
            "no PostgreSQL server binaries or runuser to start a private PostgreSQL",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path());
    let pg = TlsPostgres::start(&certs).unwrap();
    let redis = TlsRedis::start(&certs);

    // Plain connections are refused by both.
    let plain = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let refused = sqlx::PgPool::connect(&plain)
        .await
        .expect_err("no plain PostgreSQL");
    assert!(refused.to_string().contains("pg_hba.conf"), "{refused}");
    let client = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port)).unwrap();
    let plain_redis = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await;
    assert!(
        !matches!(plain_redis, Ok(Ok(_))),
        "a plain Redis connection must not work"
    );

    let database_url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        certs.ca.display()
    );
    let redis_url = format!("rediss://127.0.0.1:{}", redis.port);
    let node = |name: &'static str| {
        let (database_url, redis_url, ca) =
            (database_url.clone(), redis_url.clone(), certs.ca.clone());
        move |c: &mut natter::config::Config| {
            c.database_url = Some(database_url);
            c.redis_url = Some(redis_url);
            c.redis_ca_cert = Some(ca);
            c.node_id = Some(name.into());
            c.master_key = Some(TEST_MASTER_KEY.into());
        }
    };
    let n1 = spawn_app_with(node("n1")).await;
    let n2 = spawn_app_with(node("n2")).await;
    let ana = n1.register("ana").await;
    let bob = n2.register("bob").await;
    let room = n1.create_room(&ana, "over tls", None).await;
    let (status, _) = n2.join(&bob, "over tls", None).await;
    assert_eq!(status, StatusCode::OK);
    let (mut bob_ws, _) = n2.ws(&bob).await;
    let (status, sent) = n1
        .send_http(&ana, &room, "t1", "through TLS both ways")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let got = bob_ws.next_of("message").await;
    assert_eq!(
        got["message"]["body"], "through TLS both ways",
        "crossed Redis over TLS"
    );

    // A node that does not trust the authority does not start.
    let untrusted = database_url.replace(
        &format!("sslrootcert={}", certs.ca.display()),
        "sslrootcert=/etc/ssl/certs/ca-certificates.crt",
    );
    let mut config = n1.config.clone();
    config.database_url = Some(untrusted);
    config.bind = "127.0.0.1:0".parse().unwrap();
    assert!(
        natter::app::App::start(config).await.is_err(),
        "an unknown authority is refused"
    );
}
