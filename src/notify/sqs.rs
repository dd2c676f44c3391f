//! Sending notifications to SQS with aws-sdk-sqs: the platform's own queue, and each
//! partner's queue — with the gateway's credentials (the partner's queue policy grants
//! them), or with temporary credentials from assuming the partner's role through STS with
//! the destination's ExternalId, kept until shortly before they expire. The standard AWS
//! configuration applies (credential chain, `AWS_REGION`, `AWS_ENDPOINT_URL_SQS`/`_STS`);
//! `HOOKGATE_SQS_ENDPOINT` / `HOOKGATE_STS_ENDPOINT` override the endpoints.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::MessageAttributeValue;
use chrono::{DateTime, TimeDelta, Utc};

use super::Outgoing;
use crate::clock::SharedClock;
use crate::domain::destination::Destination;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SqsError(String);

/// What AWS said: its error code and message when it answered, else the whole chain of
/// causes (the SDK's own Display is terse).
fn sdk_error<E>(e: &aws_sdk_sqs::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => chain(e),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[derive(Debug, Clone, Default)]
pub struct SqsSettings {
    /// The platform queue's URL; or `queue_name`, resolved at start-up.
    pub queue_url: Option<String>,
    pub queue_name: Option<String>,
    pub endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
}

/// Assumed-role credentials are renewed this long before they expire.
pub const REFRESH_BEFORE: TimeDelta = TimeDelta::minutes(5);
/// How long assumed-role credentials are asked for.
const ROLE_SESSION_SECONDS: i32 = 3600;

struct Assumed {
    client: aws_sdk_sqs::Client,
    expires_at: DateTime<Utc>,
}

/// SQS clients: one per region with the gateway's credentials, one per role destination
/// with its assumed credentials.
pub struct SqsClients {
    sqs: SdkConfig,
    sts: SdkConfig,
    clock: SharedClock,
    by_region: Mutex<HashMap<String, aws_sdk_sqs::Client>>,
    /// By destination id, role and ExternalId, so a changed role is assumed afresh.
    assumed: Mutex<HashMap<(String, String, String), Assumed>>,
}

async fn load(endpoint: Option<&str>) -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else("us-east-1");
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

impl SqsClients {
    pub async fn load(settings: &SqsSettings, clock: SharedClock) -> Self {
        Self {
            sqs: load(settings.endpoint.as_deref()).await,
            sts: load(settings.sts_endpoint.as_deref()).await,
            clock,
            by_region: Mutex::default(),
            assumed: Mutex::default(),
        }
    }

    /// The gateway's own client, in the default region.
    fn default_client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sqs)
    }

    fn regional(&self, region: &str) -> aws_sdk_sqs::Client {
        let mut clients = self.by_region.lock().expect("client map lock");
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_sqs::config::Builder::from(&self.sqs)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_sqs::Client::from_conf(config)
            })
            .clone()
    }

    /// The client that sends to `d`'s queue: assuming its role when it has one.
    async fn client_for(&self, d: &Destination) -> Result<aws_sdk_sqs::Client, String> {
        let region = d.region.clone().unwrap_or_else(|| "us-east-1".into());
        let (Some(role_arn), Some(external_id)) = (&d.role_arn, &d.external_id) else {
            return Ok(self.regional(&region));
        };
        let key = (d.id.clone(), role_arn.clone(), external_id.clone());
        let now = self.clock.now();
        if let Some(cached) = self.assumed.lock().expect("role cache lock").get(&key) {
            if now + REFRESH_BEFORE < cached.expires_at {
                return Ok(cached.client.clone());
            }
        }
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&self.sts)
                .region(Region::new(region.clone()))
                .build(),
        );
        let assumed = sts
            .assume_role()
            .role_arn(role_arn)
            .external_id(external_id)
            .role_session_name(format!("hookgate-{}", d.id))
            .duration_seconds(ROLE_SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| {
                metrics::counter!(crate::metrics::STS_ERRORS).increment(1);
                let text = match (e.code(), e.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    _ => chain(&e),
                };
                format!("STS AssumeRole {role_arn}: {text}")
            })?;
        let credentials = assumed
            .credentials()
            .ok_or_else(|| format!("STS AssumeRole {role_arn}: no credentials in the answer"))?;
        let expires_at =
            DateTime::<Utc>::from_timestamp(credentials.expiration().secs(), 0).unwrap_or(now);
        let provider = aws_sdk_sqs::config::Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            None,
            "hookgate-assumed-role",
        );
        let client = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&self.sqs)
                .region(Region::new(region))
                .credentials_provider(provider)
                .build(),
        );
        tracing::info!(destination_id = %d.id, role_arn, %expires_at, "assumed the destination's role");
        self.assumed.lock().expect("role cache lock").insert(
            key,
            Assumed {
                client: client.clone(),
                expires_at,
            },
        );
        Ok(client)
    }

    /// Sends to a partner's queue; the SQS message id.
    pub async fn send_to(&self, d: &Destination, m: &Outgoing<'_>) -> Result<String, String> {
        let queue_url = d
            .queue_url
            .as_deref()
            .ok_or("the destination has no queue URL")?;
        let client = self.client_for(d).await?;
        send(&client, queue_url, m).await
    }
}

/// Sends `m` to `queue_url`; the SQS message id. A FIFO queue gets one group per webhook
/// (its notifications stay in order) and the notification id as deduplication id (SQS
/// drops a re-send after a relay crash).
pub async fn send(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    m: &Outgoing<'_>,
) -> Result<String, String> {
    let attribute = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| chain(&e))
    };
    let mut request = client
        .send_message()
        .queue_url(queue_url)
        .message_body(m.body.to_string())
        .message_attributes("notification_id", attribute(m.id)?)
        .message_attributes("severity", attribute(m.severity)?)
        .message_attributes("app_id", attribute(m.app_id)?);
    if let Some(webhook_id) = m.webhook_id {
        request = request.message_attributes("webhook_id", attribute(webhook_id)?);
    }
    if queue_url.ends_with(".fifo") {
        request = request
            .message_group_id(m.webhook_id.unwrap_or(m.app_id))
            .message_deduplication_id(m.id);
    }
    let sent = request.send().await.map_err(|e| sdk_error(&e))?;
    Ok(sent.message_id.unwrap_or_default())
}

/// The platform's own queue, which gets every app's notifications.
pub struct PlatformQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl PlatformQueue {
    pub async fn connect(settings: &SqsSettings, clients: &SqsClients) -> Result<Self, SqsError> {
        let client = clients.default_client();
        let queue_url = match (&settings.queue_url, &settings.queue_name) {
            (Some(url), _) => url.clone(),
            (None, Some(name)) => client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| SqsError(sdk_error(&e)))?
                .queue_url
                .ok_or_else(|| SqsError(format!("no URL for queue {name}")))?,
            (None, None) => return Err(SqsError("no queue URL or name configured".into())),
        };
        Ok(Self { client, queue_url })
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub async fn send(&self, m: &Outgoing<'_>) -> Result<String, String> {
        send(&self.client, &self.queue_url, m).await
    }
}
