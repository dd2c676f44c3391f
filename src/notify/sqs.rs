//! Publishing notifications to an SQS queue with aws-sdk-sqs: the standard AWS credential
//! and region chain, plus an optional endpoint override (an emulator, a VPC endpoint).

use aws_config::meta::region::RegionProviderChain;
use aws_config::BehaviorVersion;
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::domain::notification::Notification;

#[derive(Debug, thiserror::Error)]
#[error("SQS: {0}")]
pub struct SqsError(String);

fn sdk_error(e: impl std::error::Error) -> SqsError {
    // The SDK's Display is terse; its source chain says what actually went wrong.
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    SqsError(text)
}

#[derive(Debug, Clone)]
pub struct SqsSettings {
    /// The queue's URL; or `queue_name`, resolved at start-up.
    pub queue_url: Option<String>,
    pub queue_name: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    fifo: bool,
}

impl SqsPublisher {
    pub async fn connect(settings: &SqsSettings) -> Result<Self, SqsError> {
        let region = RegionProviderChain::default_provider().or_else("us-east-1");
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let client = aws_sdk_sqs::Client::new(&loader.load().await);
        let queue_url = match (&settings.queue_url, &settings.queue_name) {
            (Some(url), _) => url.clone(),
            (None, Some(name)) => client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(sdk_error)?
                .queue_url
                .ok_or_else(|| SqsError(format!("no URL for queue {name}")))?,
            (None, None) => return Err(SqsError("no queue URL or name configured".into())),
        };
        Ok(Self {
            fifo: queue_url.ends_with(".fifo"),
            client,
            queue_url,
        })
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub async fn publish(&self, n: &Notification) -> Result<(), SqsError> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(sdk_error)
        };
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(n.body.to_string())
            .message_attributes("notification_id", attribute(&n.id)?)
            .message_attributes("severity", attribute(n.severity.as_str())?)
            .message_attributes("webhook_id", attribute(&n.webhook_id)?);
        if self.fifo {
            // One group per webhook keeps its notifications in order; the stable id lets
            // SQS drop a re-publish after a relay crash.
            request = request
                .message_group_id(&n.webhook_id)
                .message_deduplication_id(&n.id);
        }
        request.send().await.map_err(sdk_error)?;
        Ok(())
    }
}
