//! An app's notification destinations: where its webhooks' health notifications go, at
//! most five, managed by the partner (or the platform). An SQS destination's ExternalId
//! is generated here, once, and never changes, so the partner's trust policy keeps
//! working whatever else is edited.

use serde::Deserialize;

use super::contract::{schema, DESTINATION_DESCRIPTION_MAX};
use super::{new_id, present, validate_text, Caller, ConflictKind, Error, Gateway, Result};
use crate::domain::destination::{
    self, Destination, DestinationKind, DestinationState, ALL_SEVERITIES, MAX_PER_APP,
};
use crate::domain::health::Severity;
use crate::domain::notification::test_message;
use crate::domain::secrets::generate_secret;
use crate::domain::target;

/// A new destination: an SQS queue or an HTTPS endpoint.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum NewDestination {
    Sqs(NewSqsDestination),
    Https(NewHttpsDestination),
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSqsDestination {
    /// The region is read from it.
    #[schema(schema_with = schema::queue_url_required)]
    pub queue_url: String,
    #[schema(schema_with = schema::role_arn_or_null)]
    pub role_arn: Option<String>,
    #[schema(schema_with = schema::severities_or_null)]
    pub severities: Option<Vec<Severity>>,
    #[schema(schema_with = schema::destination_description_or_null)]
    pub description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHttpsDestination {
    #[schema(schema_with = schema::destination_url)]
    pub url: String,
    #[schema(schema_with = schema::severities_or_null)]
    pub severities: Option<Vec<Severity>>,
    #[schema(schema_with = schema::destination_description_or_null)]
    pub description: Option<String>,
}

/// What an update may change; the type, the ExternalId and the secret stay. A field of
/// the other type (a `url` for an SQS destination) is a conflict with what is stored.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationPatch {
    #[schema(schema_with = schema::queue_url_or_null)]
    pub queue_url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = schema::role_arn_or_null)]
    pub role_arn: Option<Option<String>>,
    #[schema(schema_with = schema::url_or_null)]
    pub url: Option<String>,
    #[schema(schema_with = schema::severities_or_null)]
    pub severities: Option<Vec<Severity>>,
    #[schema(schema_with = schema::destination_description_or_null)]
    pub description: Option<String>,
}

fn validate_severities(severities: Option<Vec<Severity>>) -> Result<Option<Vec<Severity>>> {
    let Some(severities) = severities else {
        return Ok(None);
    };
    let invalid = |m: &str| Error::invalid("severities", m);
    if severities.is_empty() {
        return Err(invalid(
            "severities must list at least one of warning, deactivation, recovered",
        ));
    }
    if ALL_SEVERITIES
        .iter()
        .any(|s| severities.iter().filter(|t| *t == s).count() > 1)
    {
        return Err(invalid("severities must not repeat a severity"));
    }
    Ok(Some(severities))
}

fn validate_description(description: Option<String>) -> Result<Option<String>> {
    if let Some(d) = &description {
        validate_text("description", d, DESTINATION_DESCRIPTION_MAX, true)?;
    }
    Ok(description)
}

/// The queue URL's region: an SQS queue URL names it, so a request never has to (and
/// cannot contradict it).
fn validate_queue(queue_url: &str) -> Result<String> {
    let region = destination::queue_url_region(queue_url).ok_or_else(|| {
        Error::invalid(
            "queue_url",
            "queue_url must be an SQS queue URL: https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>",
        )
    })?;
    Ok(region.to_string())
}

fn validate_role(role_arn: Option<String>) -> Result<Option<String>> {
    match role_arn {
        Some(arn) if !destination::is_role_arn(&arn) => Err(Error::invalid(
            "role_arn",
            "role_arn must be an IAM role's ARN: arn:aws:iam::<12-digit account>:role/<name>",
        )),
        other => Ok(other),
    }
}

fn validate_url(url: &str, targets: target::TargetPolicy) -> Result<String> {
    Ok(target::validate_url(url.trim(), targets)
        .map_err(|m| Error::invalid("url", m))?
        .to_string())
}

/// The app's destinations, oldest first.
pub async fn list(gw: &Gateway, caller: &Caller, app_id: &str) -> Result<Vec<Destination>> {
    super::apps::get(gw, caller, app_id).await?;
    Ok(gw.store.list_destinations(Some(app_id)).await?)
}

/// Every app's destinations whose last send failed: what the console shows.
pub async fn failing(gw: &Gateway) -> Result<Vec<Destination>> {
    let mut all = gw.store.list_destinations(None).await?;
    all.retain(|d| d.state == DestinationState::Failing);
    Ok(all)
}

pub async fn get(gw: &Gateway, caller: &Caller, app_id: &str, id: &str) -> Result<Destination> {
    caller.require_app(app_id)?;
    gw.store
        .get_destination(app_id, id)
        .await?
        .ok_or(Error::NotFound("notification destination"))
}

/// The destination with its signing secret: the manage scope's, like a webhook's.
pub async fn with_secret(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    id: &str,
) -> Result<Destination> {
    caller.require_manage()?;
    get(gw, caller, app_id, id).await
}

/// Validates and stores a new destination of `app_id`; nothing is stored on an error.
pub async fn create(
    gw: &Gateway,
    caller: &Caller,
    app_id: &str,
    new: NewDestination,
) -> Result<Destination> {
    super::apps::get(gw, caller, app_id).await?;
    let now = gw.clock.now();
    let mut d = Destination {
        id: new_id(),
        app_id: app_id.to_string(),
        kind: DestinationKind::Sqs,
        queue_url: None,
        region: None,
        role_arn: None,
        external_id: None,
        url: None,
        secret: None,
        severities: ALL_SEVERITIES.to_vec(),
        description: String::new(),
        state: DestinationState::Active,
        last_success_at: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    };
    let (severities, description) = match new {
        NewDestination::Sqs(sqs) => {
            d.region = Some(validate_queue(&sqs.queue_url)?);
            d.queue_url = Some(sqs.queue_url);
            d.role_arn = validate_role(sqs.role_arn)?;
            d.external_id = Some(destination::generate_external_id());
            (sqs.severities, sqs.description)
        }
        NewDestination::Https(https) => {
            d.kind = DestinationKind::Https;
            d.url = Some(validate_url(&https.url, gw.policy.targets)?);
            d.secret = Some(generate_secret());
            (https.severities, https.description)
        }
    };
    if let Some(s) = validate_severities(severities)? {
        d.severities = s;
    }
    if let Some(text) = validate_description(description)? {
        d.description = text;
    }
    gw.store.create_destination(&d, MAX_PER_APP).await?;
    Ok(d)
}

/// Applies `patch` to the caller's destination `d` (from [`get`]); nothing changes on an
/// error.
pub async fn update(
    gw: &Gateway,
    mut d: Destination,
    patch: DestinationPatch,
) -> Result<Destination> {
    let other_type = |field: &str| {
        Error::conflict(
            ConflictKind::State,
            format!(
                "{field} does not apply to an {} destination",
                d.kind.as_str()
            ),
        )
    };
    match d.kind {
        DestinationKind::Sqs => {
            if patch.url.is_some() {
                return Err(other_type("url"));
            }
            if let Some(queue_url) = patch.queue_url {
                d.region = Some(validate_queue(&queue_url)?);
                d.queue_url = Some(queue_url);
            }
            if let Some(role_arn) = patch.role_arn {
                d.role_arn = validate_role(role_arn)?;
            }
        }
        DestinationKind::Https => {
            let field = [
                ("queue_url", patch.queue_url.is_some()),
                ("role_arn", patch.role_arn.is_some()),
            ];
            if let Some((name, _)) = field.iter().find(|(_, given)| *given) {
                return Err(other_type(name));
            }
            if let Some(url) = &patch.url {
                d.url = Some(validate_url(url, gw.policy.targets)?);
            }
        }
    }
    if let Some(s) = validate_severities(patch.severities)? {
        d.severities = s;
    }
    if let Some(text) = validate_description(patch.description)? {
        d.description = text;
    }
    d.updated_at = gw.clock.now();
    if !gw.store.update_destination(&d).await? {
        return Err(Error::NotFound("notification destination"));
    }
    Ok(gw
        .store
        .get_destination(&d.app_id, &d.id)
        .await?
        .unwrap_or(d))
}

/// Deletes the destination; what it had not been sent yet is dropped.
pub async fn delete(gw: &Gateway, caller: &Caller, app_id: &str, id: &str) -> Result<()> {
    caller.require_app(app_id)?;
    if !gw
        .store
        .delete_destination(app_id, id, gw.clock.now())
        .await?
    {
        return Err(Error::NotFound("notification destination"));
    }
    Ok(())
}

/// What a test send came to.
#[derive(Debug, Clone)]
pub enum TestOutcome {
    Sent { id: String, message_id: String },
    Failed { id: String, error: String },
}

/// Sends a `test` message to the destination now. It is never stored as a notification;
/// its outcome is the destination's last success or last error, and a success makes
/// the destination's waiting notifications due at once.
pub async fn send_test(gw: &Gateway, d: &Destination) -> Result<TestOutcome> {
    gw.deliveries.take_test_send(&d.app_id)?;
    let app = gw
        .store
        .get_app(&d.app_id)
        .await?
        .ok_or(Error::NotFound("app"))?;
    let now = gw.clock.now();
    let (id, body) = test_message(&app.id, &app.name, now);
    let sent = gw.notifier.send_test(d, &id, &body).await;
    let error = sent.as_ref().err().map(String::as_str);
    gw.store
        .record_test_outcome(&d.id, gw.clock.now(), error)
        .await?;
    tracing::info!(destination_id = %d.id, app_id = %d.app_id, ok = sent.is_ok(), "destination test send");
    Ok(match sent {
        Ok(message_id) => TestOutcome::Sent { id, message_id },
        Err(error) => TestOutcome::Failed { id, error },
    })
}
