//! Notifications → Destinations: where the app's health notifications go. Add an SQS
//! queue (with the ExternalId and the trust policy to paste into the role) or an HTTPS
//! endpoint, send a test and see its outcome, see each one's state and last error,
//! delete — through the use cases the API calls (`usecases::destinations`).

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Partner;
use super::PageError;
use crate::domain::destination::{Destination, DestinationKind, DestinationState, MAX_PER_APP};
use crate::domain::health::Severity;
use crate::domain::target::MAX_URL_LEN;
use crate::usecases::contract::DESTINATION_DESCRIPTION_MAX;
use crate::usecases::destinations::{
    self, NewDestination, NewHttpsDestination, NewSqsDestination, TestOutcome,
};
use crate::usecases::{Error, Gateway};
use crate::web::error::{message_of, refused_form};
use crate::web::forms::{csrf_field, CsrfForm, Posted};
use crate::web::pages::layout;

const PATH: &str = "/portal/notifications/destinations";

/// The add form: `kind` says which fields count.
#[derive(Deserialize, Default)]
pub struct DestinationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    queue_url: String,
    #[serde(default)]
    role_arn: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    severities: Vec<String>,
}

csrf_field!(DestinationForm);

impl DestinationForm {
    fn new_destination(&self) -> Result<NewDestination, Error> {
        let severities = self
            .severities
            .iter()
            .map(|s| {
                serde_json::from_value::<Severity>(serde_json::Value::String(s.clone()))
                    .map_err(|_| Error::invalid("severities", format!("{s:?} is no severity")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let description = Some(self.description.clone()).filter(|d| !d.is_empty());
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        match self.kind.as_str() {
            "sqs" => Ok(NewDestination::Sqs(NewSqsDestination {
                queue_url: self.queue_url.trim().to_string(),
                role_arn: text(&self.role_arn),
                severities: Some(severities),
                description,
            })),
            "https" => Ok(NewDestination::Https(NewHttpsDestination {
                url: self.url.trim().to_string(),
                severities: Some(severities),
                description,
            })),
            _ => Err(Error::invalid(
                "type",
                "choose an SQS queue or an HTTPS endpoint",
            )),
        }
    }
}

/// What the page shows beside the list, after a post.
enum Shown<'a> {
    Nothing,
    /// A new HTTPS destination's secret, shown once here.
    Created(&'a Destination),
    Tested(&'a Destination, &'a TestOutcome),
    Refused(&'a DestinationForm, &'a Error),
}

pub async fn list(State(gw): State<Gateway>, partner: Partner) -> Result<Markup, PageError> {
    page(&gw, &partner, Shown::Nothing).await
}

pub async fn create(
    State(gw): State<Gateway>,
    Posted { session, form }: Posted<Partner, DestinationForm>,
) -> Response {
    let created = match form.new_destination() {
        Ok(new) => destinations::create(&gw, &session.caller(), &session.app_id, new).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(d) => page_response(page(&gw, &session, Shown::Created(&d)).await),
        Err(e) => refused_form(&e, page(&gw, &session, Shown::Refused(&form, &e))).await,
    }
}

pub async fn send_test(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    let d = destinations::get(&gw, &session.caller(), &session.app_id, &id).await?;
    let outcome = destinations::send_test(&gw, &d).await?;
    page(&gw, &session, Shown::Tested(&d, &outcome)).await
}

pub async fn delete(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Markup, PageError> {
    destinations::delete(&gw, &session.caller(), &session.app_id, &id).await?;
    page(&gw, &session, Shown::Nothing).await
}

fn page_response(page: Result<Markup, PageError>) -> Response {
    use axum::response::IntoResponse;
    match page {
        Ok(markup) => markup.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The trust policy a role needs so that hookgate, and only with this ExternalId, may
/// assume it.
fn trust_policy(external_id: &str) -> String {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "<the gateway's principal ARN, from your platform>"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}}
        }]
    });
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}

async fn page(gw: &Gateway, partner: &Partner, shown: Shown<'_>) -> Result<Markup, PageError> {
    let list = destinations::list(gw, &partner.caller(), &partner.app_id).await?;
    let (refused_form, error) = match shown {
        Shown::Refused(form, e) => (Some(form), Some(message_of(e))),
        _ => (None, None),
    };
    let blank = DestinationForm::default();
    let form = refused_form.unwrap_or(&blank);
    let body = html! {
        p.muted {
            "Where your webhooks' health notifications go: your own SQS queue or HTTPS endpoint, "
            "at most " (MAX_PER_APP) ". A destination that fails is retried for days and holds only its own messages."
        }
        @match shown {
            Shown::Created(d) => {
                div.card role="status" {
                    h2 { "Destination added" }
                    @if let Some(secret) = &d.secret {
                        p { "Its signing secret, shown only now (the API's " code { "…/secret" } " shows it again):" }
                        p { code #new-secret { (secret) } }
                    }
                    @if let Some(external_id) = &d.external_id {
                        p { "Its ExternalId: " code { (external_id) } }
                    }
                }
            }
            Shown::Tested(d, outcome) => {
                div.card role="status" #test-outcome {
                    h2 { "Test sent to " (target(d)) }
                    @match outcome {
                        TestOutcome::Sent { message_id, .. } => p { "Sent. Message id " code { (message_id) } "." },
                        TestOutcome::Failed { error, .. } => p.error { "Failed: " (error) },
                    }
                }
            }
            _ => {}
        }
        @if list.is_empty() {
            p.muted #no-destinations { "No destination yet: notifications are kept here and reach only your platform's own queue, if it has one." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Notification destinations" { table #destinations {
                thead { tr { th { "Destination" } th { "Gets" } th { "State" } th { "Last error" } th { span.visually-hidden { "Actions" } } } }
                tbody { @for d in &list { (row(d, &partner.csrf)) } }
            } }
            @for d in list.iter().filter(|d| d.role_arn.is_some()) {
                @if let Some(external_id) = &d.external_id {
                    details.card {
                        summary { "Trust policy for " code { (d.role_arn.as_deref().unwrap_or_default()) } }
                        p { "The role must trust the gateway with this destination's ExternalId, and may only "
                            code { "sqs:SendMessage" } " to " code { (d.queue_url.as_deref().unwrap_or_default()) } ":" }
                        pre { code { (trust_policy(external_id)) } }
                    }
                }
            }
        }
        @if (list.len() as i64) < MAX_PER_APP {
            (add_form(partner, "sqs", form, error.as_deref()))
            (add_form(partner, "https", form, error.as_deref()))
        }
    };
    Ok(layout("Notification destinations", partner.nav(), body))
}

fn target(d: &Destination) -> &str {
    match d.kind {
        DestinationKind::Sqs => d.queue_url.as_deref(),
        DestinationKind::Https => d.url.as_deref(),
    }
    .unwrap_or_default()
}

fn row(d: &Destination, csrf: &str) -> Markup {
    let kind = match d.kind {
        DestinationKind::Sqs => "SQS",
        DestinationKind::Https => "HTTPS",
    };
    html! {
        tr {
            td {
                strong { (kind) } " " code { (target(d)) }
                @if let Some(role) = &d.role_arn { br; span.muted { "as " code { (role) } } }
                @if let Some(external_id) = &d.external_id { br; span.muted { "ExternalId " code { (external_id) } } }
                @if !d.description.is_empty() { br; (d.description) }
            }
            td { (d.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
            td {
                @match d.state {
                    DestinationState::Active => span.badge.healthy { "active" },
                    DestinationState::Failing => span.badge.deactivated { "failing" },
                }
                @if let Some(at) = d.last_success_at { br; span.muted { "last sent " (at.format("%Y-%m-%d %H:%M UTC")) } }
            }
            td {
                @if let Some(e) = &d.last_error { (e.message) br; span.muted { (e.at.format("%Y-%m-%d %H:%M UTC")) } }
                @else { "—" }
            }
            td {
                form method="post" action={ (PATH) "/" (d.id) "/test" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" aria-label={ "Send a test to " (target(d)) } { "Send a test" }
                }
                form method="post" action={ (PATH) "/" (d.id) "/delete" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.danger type="submit" aria-label={ "Delete " (target(d)) } { "Delete" }
                }
            }
        }
    }
}

fn add_form(
    partner: &Partner,
    kind: &str,
    posted: &DestinationForm,
    error: Option<&str>,
) -> Markup {
    let mine = posted.kind == kind;
    let wants = |s: Severity| {
        !mine || posted.severities.is_empty() || posted.severities.iter().any(|p| p == s.as_str())
    };
    let id = |field: &str| format!("{kind}-{field}");
    html! {
        form.card method="post" action=(PATH) aria-labelledby={ (kind) "-title" } {
            @if kind == "sqs" {
                h2 #sqs-title { "Add an SQS queue" }
            } @else {
                h2 #https-title { "Add an HTTPS endpoint" }
            }
            @if let (true, Some(message)) = (mine, error) { p.error role="alert" { (message) } }
            input type="hidden" name="csrf" value=(partner.csrf);
            input type="hidden" name="kind" value=(kind);
            @if kind == "sqs" {
                label for=(id("queue_url")) { "Queue URL" }
                input id=(id("queue_url")) type="url" name="queue_url" required maxlength=(MAX_URL_LEN)
                    value=(if mine { posted.queue_url.as_str() } else { "" })
                    placeholder="https://sqs.eu-west-1.amazonaws.com/111122223333/hookgate-alerts";
                label for=(id("role_arn")) { "Role to assume (optional)" }
                input id=(id("role_arn")) type="text" name="role_arn"
                    value=(if mine { posted.role_arn.as_str() } else { "" })
                    placeholder="arn:aws:iam::111122223333:role/hookgate-notifications";
                p.muted { "With a role, hookgate assumes it with an ExternalId it shows once the queue is added; "
                          "without one, your queue's policy must let the gateway's principal send." }
            } @else {
                label for=(id("url")) { "Endpoint URL" }
                input id=(id("url")) type="url" name="url" required maxlength=(MAX_URL_LEN)
                    value=(if mine { posted.url.as_str() } else { "" })
                    placeholder="https://alerts.partner.example/hookgate";
                p.muted { "Each notification is a POST signed as deliveries are, with a secret of its own." }
            }
            label for=(id("description")) { "Description (" (DESTINATION_DESCRIPTION_MAX) " characters at most)" }
            input id=(id("description")) type="text" name="description" maxlength=(DESTINATION_DESCRIPTION_MAX)
                value=(if mine { posted.description.as_str() } else { "" });
            fieldset {
                legend { "Notifications it gets" }
                @for s in crate::domain::destination::ALL_SEVERITIES {
                    label {
                        input type="checkbox" name="severities" value=(s.as_str()) checked[wants(s)];
                        (s.as_str())
                    }
                }
            }
            button type="submit" { @if kind == "sqs" { "Add queue" } @else { "Add endpoint" } }
        }
    }
}
