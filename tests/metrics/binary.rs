//! The real `hookgate` binary, started on a fresh SQLite file with JSON logs, and stopped
//! with SIGTERM as an orchestrator would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::PLATFORM_KEY;

pub struct Gateway {
    pub base: String,
    /// Every log line so far; [`Gateway::stop`] adds the rest.
    pub log: Vec<String>,
    child: Child,
    lines: Receiver<String>,
    db: std::path::PathBuf,
}

impl Gateway {
    /// Serves with `env` on top of the test defaults; returns once it listens.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let db = std::env::temp_dir().join(format!(
            "hookgate-binary-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookgate"));
        command
            .arg("serve")
            .env("HOOKGATE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("HOOKGATE_LISTEN", "127.0.0.1:0")
            .env(
                "HOOKGATE_DATABASE_URL",
                format!("sqlite://{}", db.display()),
            )
            .env("HOOKGATE_PLATFORM_KEY", PLATFORM_KEY)
            .env("HOOKGATE_ALLOW_INSECURE_TARGETS", "true")
            .env("HOOKGATE_ALLOW_PRIVATE_TARGETS", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut log = Vec::new();
        let addr = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("the gateway starts");
            let parsed: Value = serde_json::from_str(&line).expect("every log line is JSON");
            log.push(line);
            if parsed["fields"]["message"] == "hookgate listening" {
                break parsed["fields"]["addr"].as_str().unwrap().to_string();
            }
        };
        Self {
            base: format!("http://{addr}"),
            log,
            child,
            lines,
            db,
        }
    }

    /// SIGTERM; the process must exit 0. Collects the rest of the log.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "a graceful shutdown exits 0: {status:?}");
        self.log.extend(self.lines.try_iter());
        let _ = std::fs::remove_file(&self.db);
    }
}
