//! What the webhook form carries, and how it becomes the use case's fields: text as the
//! browser posts it, parsed here only as far as the fields' types need; the use case
//! (`usecases::webhooks`) validates the rest, as it does for the API.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::model::{Environment, Ordering, Webhook};
use crate::domain::retry::{CustomPolicy, RetryPolicySpec};
use crate::usecases::webhooks::WebhookFields;
use crate::usecases::Error;
use crate::web::forms::csrf_field;

csrf_field!(WebhookForm);

/// The retry presets, as the form offers them.
pub(super) const PRESETS: [(&str, &str); 4] = [
    (
        "hibob",
        "1, 10, 20, 40, 80, 160 minutes after the first failure",
    ),
    ("bindbee", "network errors only, 4 retries within a minute"),
    ("exponential", "exponential, up to 2 days"),
    ("custom", "my own offsets, below"),
];

/// What the form sends back, kept to show it again beside its errors.
#[derive(Deserialize, Default)]
pub struct WebhookForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) url: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) environment: String,
    /// Ticked catalogue types.
    #[serde(default)]
    pub(super) event_types: Vec<String>,
    /// Further types or wildcards, comma-separated: `employee.*`.
    #[serde(default)]
    pub(super) other_event_types: String,
    /// One `Name: value` per line.
    #[serde(default)]
    pub(super) headers: String,
    #[serde(default)]
    pub(super) timeout_seconds: String,
    /// A preset's name or `custom`.
    #[serde(default)]
    pub(super) retry_policy: String,
    /// Seconds after the first failure, comma-separated, for `custom`.
    #[serde(default)]
    pub(super) retry_offsets: String,
    /// Empty for no limit.
    #[serde(default)]
    pub(super) rate_limit_per_second: String,
    /// `none` or `per_key`; empty keeps the webhook's (`none` for a new one).
    #[serde(default)]
    pub(super) ordering: String,
}

impl WebhookForm {
    /// The form filled with a stored webhook, to edit it.
    pub(super) fn of(webhook: &Webhook) -> Self {
        let preset = webhook.retry_policy.name.as_str();
        let custom = !PRESETS.iter().any(|(p, _)| *p == preset) || preset == "custom";
        Self {
            url: webhook.url.clone(),
            description: webhook.description.clone(),
            environment: webhook.environment.as_str().into(),
            event_types: webhook.event_types.clone(),
            headers: webhook
                .headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}\n"))
                .collect(),
            timeout_seconds: (webhook.timeout_ms / 1000).to_string(),
            retry_policy: if custom {
                "custom".into()
            } else {
                preset.into()
            },
            retry_offsets: if custom {
                let offsets: Vec<String> = webhook
                    .retry_policy
                    .offsets_seconds
                    .iter()
                    .map(u64::to_string)
                    .collect();
                offsets.join(", ")
            } else {
                String::new()
            },
            rate_limit_per_second: webhook
                .rate_limit_per_second
                .map(|r| r.to_string())
                .unwrap_or_default(),
            ordering: webhook.ordering.as_str().into(),
            ..Default::default()
        }
    }

    fn event_types(&self) -> Vec<String> {
        let mut types = self.event_types.clone();
        types.extend(
            self.other_event_types
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from),
        );
        types
    }

    fn headers(&self) -> Result<BTreeMap<String, String>, Error> {
        let mut headers = BTreeMap::new();
        for line in self
            .headers
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                Error::invalid("headers", format!("headers: {line:?} is not 'Name: value'"))
            })?;
            headers.insert(name.trim().to_string(), value.trim().to_string());
        }
        Ok(headers)
    }

    fn retry_policy(&self) -> Result<Option<RetryPolicySpec>, Error> {
        Ok(match self.retry_policy.as_str() {
            "" => None,
            "custom" => {
                let offsets = self
                    .retry_offsets
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        o.parse().map_err(|_| {
                            Error::invalid(
                                "retry_policy",
                                format!("retry offsets must be whole seconds: {o:?} is not"),
                            )
                        })
                    })
                    .collect::<Result<Vec<u64>, _>>()?;
                Some(RetryPolicySpec::Custom(CustomPolicy {
                    offsets_seconds: offsets,
                    retry_http_errors: true,
                }))
            }
            preset => Some(RetryPolicySpec::Preset(preset.to_string())),
        })
    }

    /// The use case's fields; a value their types cannot hold is an error for its field.
    /// An empty rate limit is no limit: on an edit it removes the one set.
    pub(super) fn fields(&self, editing: bool) -> Result<WebhookFields, Error> {
        let environment = match self.environment.as_str() {
            "" => None,
            e => Some(Environment::parse(e).ok_or_else(|| {
                Error::invalid(
                    "environment",
                    "environment must be production or development",
                )
            })?),
        };
        let timeout_seconds = match self.timeout_seconds.trim() {
            "" => None,
            t => Some(t.parse().map_err(|_| {
                Error::invalid(
                    "timeout_seconds",
                    "timeout_seconds must be a whole number of seconds",
                )
            })?),
        };
        let rate_limit_per_second = match self.rate_limit_per_second.trim() {
            "" => editing.then_some(0),
            r => Some(r.parse().map_err(|_| {
                Error::invalid(
                    "rate_limit_per_second",
                    "rate_limit_per_second must be a whole number",
                )
            })?),
        };
        let ordering =
            match self.ordering.as_str() {
                "" => None,
                o => Some(Ordering::parse(o).ok_or_else(|| {
                    Error::invalid("ordering", "ordering must be none or per_key")
                })?),
            };
        let types = self.event_types();
        Ok(WebhookFields {
            url: Some(self.url.clone()),
            description: Some(self.description.clone()),
            environment,
            event_types: if types.is_empty() {
                editing.then(|| vec!["*".to_string()])
            } else {
                Some(types)
            },
            headers: Some(self.headers()?),
            timeout_seconds,
            retry_policy: self.retry_policy()?,
            rate_limit_per_second,
            ordering,
            ..Default::default()
        })
    }
}

/// The ordering settings, as the form offers them.
pub(super) const ORDERINGS: [(&str, &str); 2] = [
    (
        "none",
        "Deliveries go out concurrently, whatever their ordering key.",
    ),
    (
        "per_key",
        "One at a time per tenant and ordering key, in publish order: the next waits until \
         the one ahead is delivered or has failed for good, so choose a short retry schedule.",
    ),
];
