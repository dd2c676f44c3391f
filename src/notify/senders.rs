//! Every way a notification leaves: a partner's SQS queue, a partner's HTTPS endpoint,
//! the platform's queue. The relay and the destinations' test sends both go through
//! here (the use cases reach it through their [`Notifier`] port).

use async_trait::async_trait;

use super::sqs::{PlatformQueue, SqsClients};
use super::{https, Outgoing};
use crate::clock::SharedClock;
use crate::delivery::sender::Sender;
use crate::domain::destination::{Destination, DestinationKind};
use crate::usecases::Notifier;

pub struct Senders {
    pub sqs: SqsClients,
    pub http: Sender,
    pub platform: Option<PlatformQueue>,
    pub clock: SharedClock,
}

impl Senders {
    /// Sends to one of an app's destinations; the message id the destination gave.
    pub async fn to_destination(
        &self,
        d: &Destination,
        m: &Outgoing<'_>,
    ) -> Result<String, String> {
        let sent = match d.kind {
            DestinationKind::Sqs => self.sqs.send_to(d, m).await,
            DestinationKind::Https => {
                https::send(&self.http, d, m, self.clock.now().timestamp()).await
            }
        };
        if sent.is_err() && d.kind == DestinationKind::Sqs {
            metrics::counter!(crate::metrics::SQS_PUBLISH_ERRORS).increment(1);
        }
        sent
    }

    /// Sends to the platform's queue; an error when none is configured.
    pub async fn to_platform(&self, m: &Outgoing<'_>) -> Result<String, String> {
        let queue = self
            .platform
            .as_ref()
            .ok_or("no platform queue is configured")?;
        let sent = queue.send(m).await;
        if sent.is_err() {
            metrics::counter!(crate::metrics::SQS_PUBLISH_ERRORS).increment(1);
        }
        sent
    }
}

#[async_trait]
impl Notifier for Senders {
    async fn send_test(
        &self,
        destination: &Destination,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<String, String> {
        let m = Outgoing {
            id,
            severity: "test",
            app_id: &destination.app_id,
            webhook_id: None,
            body,
        };
        self.to_destination(destination, &m).await
    }
}
