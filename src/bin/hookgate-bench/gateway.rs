//! Runs `hookgate serve` as child processes on a fresh database and samples their memory
//! and CPU from /proc.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PLATFORM_KEY: &str = "bench-platform-key-0123456789";

pub struct Gateway {
    child: Child,
    pub base: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh database URL: a new SQLite file, or a new PostgreSQL database.
pub async fn fresh_database(db: Db) -> String {
    let name = format!("hg_bench_{}", uuid::Uuid::new_v4().simple());
    match db {
        Db::Sqlite => format!(
            "sqlite://{}",
            std::env::temp_dir().join(format!("{name}.db")).display()
        ),
        Db::Postgres => {
            use sqlx::Connection;
            let admin = std::env::var("HOOKGATE_BENCH_PG_URL")
                .unwrap_or_else(|_| "postgres://hookgate:hookgate@127.0.0.1:5432/postgres".into());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL for the benchmark");
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            url.to_string()
        }
    }
}

/// Removes a database `fresh_database` made, so runs do not pile up gigabytes.
pub async fn drop_database(database_url: &str) {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        return;
    }
    use sqlx::Connection;
    let url = url::Url::parse(database_url).unwrap();
    let name = url.path().trim_start_matches('/').to_string();
    let mut admin = url.clone();
    admin.set_path("postgres");
    match sqlx::PgConnection::connect(admin.as_str()).await {
        Ok(mut conn) => {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = sqlx::query(&drop).execute(&mut conn).await {
                eprintln!("could not drop {name}: {e}");
            }
        }
        Err(e) => eprintln!("could not drop {name}: {e}"),
    }
}

fn gateway_binary() -> PathBuf {
    std::env::current_exe().unwrap().with_file_name("hookgate")
}

impl Gateway {
    pub async fn start(database_url: &str, port: u16, extra: &[(String, String)]) -> Self {
        let mut command = Command::new(gateway_binary());
        command
            .arg("serve")
            .env("HOOKGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKGATE_METRICS_LISTEN", "127.0.0.1:0")
            .env("HOOKGATE_DATABASE_URL", database_url)
            .env("HOOKGATE_PLATFORM_KEY", PLATFORM_KEY)
            .env("HOOKGATE_ALLOW_INSECURE_TARGETS", "true")
            .env("HOOKGATE_ALLOW_PRIVATE_TARGETS", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .expect("the hookgate binary sits next to hookgate-bench (cargo build --release)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
                if r.status().is_success() {
                    return Self { child, base };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the gateway did not become ready");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    /// SIGKILL: no goodbye, as a crashed or evicted instance.
    pub fn kill(pid: u32) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A gateway left running (a panic before `stop`) would outlive the run and skew the
/// next one; it is killed instead.
impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the ')'.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
