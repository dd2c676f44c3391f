//! A PostgreSQL server of the test's own (initdb in a temporary directory, a free
//! loopback port), so the test may stop and start it without disturbing the shared one.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

/// Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<version>/bin.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HOOKGATE_TEST_PG_BIN") {
        return dir.into();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "no PostgreSQL server binaries under /usr/lib/postgresql: run the suite with \
         scripts/test.sh, which installs PostgreSQL, or set HOOKGATE_TEST_PG_BIN",
    )
}

fn running_as_root() -> bool {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .expect("running id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// PostgreSQL refuses to run as root; as root, run its tools as the `postgres` user.
fn as_owner(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir =
            std::env::temp_dir().join(format!("hookgate-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if running_as_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(&dir);
                    c
                },
                "chown",
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut initdb = as_owner(&bin.join("initdb"));
        initdb.arg("-D").arg(dir.join("data")).args([
            "-A",
            "trust",
            "-U",
            "hookgate",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let server = Self { bin, dir, port };
        server.start_server();
        server
    }

    fn pg_ctl(&self, args: &[&str], what: &str) {
        let mut command = as_owner(&self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-t", "60"])
            .args(args);
        run(command, what);
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        self.pg_ctl(
            &["-o", &options, "-l", log.to_str().unwrap(), "start"],
            "pg_ctl start",
        );
    }

    /// A fast shutdown: sessions are terminated, as in `pg_ctlcluster … restart`.
    pub fn stop_server(&self) {
        self.pg_ctl(&["-m", "fast", "stop"], "pg_ctl stop");
    }

    pub fn url(&self) -> String {
        format!("postgres://hookgate@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let mut command = as_owner(&self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"]);
        let _ = command.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
