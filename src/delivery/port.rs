//! The dispatcher as the use cases see it: the [`Deliveries`] port.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Dispatcher;
use crate::domain::model::{ClaimedDelivery, Webhook};
use crate::usecases::{Deliveries, TestSendsExhausted, TestSent};

#[async_trait]
impl Deliveries for Dispatcher {
    fn wake(&self, webhooks: &[&str]) {
        Dispatcher::wake(self, webhooks);
    }

    fn instance_id(&self) -> Option<&str> {
        Dispatcher::instance_id(self)
    }

    fn forget_webhook(&self, webhook_id: &str) {
        Dispatcher::forget_webhook(self, webhook_id);
    }

    fn concurrency_limit(&self, webhook_id: &str) -> usize {
        Dispatcher::concurrency_limit(self, webhook_id)
    }

    fn take_test_send(&self, app_id: &str) -> Result<(), TestSendsExhausted> {
        Dispatcher::take_test_send(self, app_id)
    }

    async fn send_test(
        &self,
        webhook: &Webhook,
        data: &str,
    ) -> Result<TestSent, TestSendsExhausted> {
        let (msg_id, outcome) = Dispatcher::send_test(self, webhook, data).await?;
        Ok(TestSent {
            msg_id,
            class: outcome.class,
            status: outcome.status,
            error: outcome.error,
            excerpt: outcome.excerpt,
            latency: outcome.latency,
        })
    }

    fn fast_path_open(&self) -> bool {
        Dispatcher::fast_path_open(self)
    }

    fn lease_until(&self) -> DateTime<Utc> {
        Dispatcher::lease_until(self)
    }

    fn try_hold(&self, webhook_id: &str, partner_max: Option<i64>) -> bool {
        Dispatcher::try_hold(self, webhook_id, partner_max)
    }

    fn release_hold(&self, webhook_id: &str) {
        Dispatcher::release_hold(self, webhook_id);
    }

    async fn dispatch_leased(self: Arc<Self>, leased: Vec<ClaimedDelivery>) {
        Dispatcher::dispatch_leased(&self, leased).await;
    }
}
