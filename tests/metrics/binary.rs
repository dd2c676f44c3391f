//! The real `hookgate` binary, started on a fresh SQLite file with JSON logs, and stopped
//! with SIGTERM as an orchestrator would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{reply, Reply, PLATFORM_KEY};

/// A partner set up by [`Gateway::add_partner`].
pub struct Partner {
    pub key: String,
    pub webhook_id: String,
    pub secret: String,
}

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
            .env("HOOKGATE_METRICS_LISTEN", "127.0.0.1:0")
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

    /// `POST path` with `key` as the bearer.
    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        reply(response).await
    }

    /// The tenant `acme` in production, created once.
    pub async fn add_tenant(&self) {
        let tenant = json!({"id": "acme", "name": "Acme", "environment": "production"});
        let created = self.post("/v1/tenants", PLATFORM_KEY, tenant).await;
        assert!(
            created.status == 201 || created.status == 409,
            "{}",
            created.body
        );
    }

    /// App `app`, installed for `acme`, with one webhook on `url` for every event type.
    pub async fn add_partner(&self, app: &str, url: &str) -> Partner {
        let created = self
            .post("/v1/apps", PLATFORM_KEY, json!({"id": app, "name": app}))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let key = created.body["partner_key"].as_str().unwrap().to_string();
        let installation = json!({"tenant_id": "acme", "app_id": app});
        let installed = self
            .post("/v1/installations", PLATFORM_KEY, installation)
            .await;
        assert_eq!(installed.status, 201, "{}", installed.body);
        let webhook = self
            .post(
                &format!("/v1/apps/{app}/webhooks"),
                &key,
                json!({"url": url}),
            )
            .await;
        assert_eq!(webhook.status, 201, "{}", webhook.body);
        Partner {
            key,
            webhook_id: webhook.body["id"].as_str().unwrap().to_string(),
            secret: webhook.body["secret"].as_str().unwrap().to_string(),
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
    }
}

/// A gateway left running (a panic before `stop`) would outlive the test run; it is
/// killed instead.
impl Drop for Gateway {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.db.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}
