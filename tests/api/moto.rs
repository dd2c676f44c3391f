//! A real SQS-compatible server for tests: moto's server (from PyPI), one per test, on a
//! free loopback port, which a test may stop and start again.

use std::process::Stdio;
use std::time::Duration;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;
use tokio::process::{Child, Command};

pub struct MotoServer {
    port: u16,
    child: Option<Child>,
}

impl MotoServer {
    pub async fn start() -> Self {
        assert!(
            std::env::var("AWS_ACCESS_KEY_ID").is_ok(),
            "AWS_ACCESS_KEY_ID is not set: run the suite with scripts/test.sh, which sets \
             test credentials for the SQS emulator"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { port, child: None };
        server.resume().await;
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port. moto keeps no state across restarts.
    pub async fn resume(&mut self) {
        let program = std::env::var("HOOKGATE_TEST_MOTO").unwrap_or_else(|_| "moto_server".into());
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server runs (pip install 'moto[server]')");
        self.child = Some(child);
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto_server did not start on port {}", self.port);
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    pub fn client(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    pub async fn create_queue(&self, name: &str) -> String {
        self.client()
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("creating a queue")
            .queue_url
            .unwrap()
    }

    pub async fn delete_queue(&self, queue_url: &str) {
        self.client()
            .delete_queue()
            .queue_url(queue_url)
            .send()
            .await
            .expect("deleting a queue");
    }

    /// The roles moto's STS assumed, oldest first: (role ARN, ExternalId).
    pub async fn assumed_roles(&self) -> Vec<(String, String)> {
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", self.endpoint()))
            .await
            .expect("moto's state")
            .json()
            .await
            .unwrap();
        data["sts"]["AssumedRole"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r["role_arn"].as_str().unwrap_or_default().to_string(),
                    r["external_id"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Receives and deletes everything on the queue: (body, notification_id attribute).
    pub async fn drain(&self, queue_url: &str) -> Vec<(Value, String)> {
        let client = self.client();
        let mut messages = Vec::new();
        loop {
            let got = client
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receiving messages");
            let batch = got.messages.unwrap_or_default();
            if batch.is_empty() {
                return messages;
            }
            for m in batch {
                let id = m
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get("notification_id"))
                    .and_then(|v| v.string_value.clone())
                    .unwrap_or_default();
                messages.push((
                    serde_json::from_str(m.body.as_deref().unwrap()).unwrap(),
                    id,
                ));
                client
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}
