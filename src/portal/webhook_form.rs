//! The form that adds a webhook or edits one, and deletion: URL, description,
//! environment, event types (catalogue checkboxes and wildcards), custom headers, timeout,
//! retry policy, rate limit and order (`fields` parses what it posts). The use cases the API calls (`usecases::webhooks`)
//! validate; their error names its field, the message is shown beside it, and nothing is
//! stored on an error.

mod fields;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use self::fields::{WebhookForm, ORDERINGS, PRESETS};
use super::session::Partner;
use super::PageError;
use crate::domain::model::EventType;
use crate::domain::model::DEFAULT_TIMEOUT;
use crate::usecases::contract::{
    MAX_TIMEOUT, MAX_URL_LEN, RATE_LIMIT_MAX, WEBHOOK_DESCRIPTION_MAX,
};
use crate::usecases::webhooks;
use crate::usecases::{catalogue, Error, Gateway};
use crate::web::error::{message_of, refused_form};
use crate::web::forms::{CsrfForm, Posted};
use crate::web::pages::layout;

/// The form's fields, by the names the use case's errors give them; an error about any
/// other field (or none) is shown above the form.
const FORM_FIELDS: [&str; 9] = [
    "url",
    "description",
    "environment",
    "event_types",
    "headers",
    "timeout_seconds",
    "retry_policy",
    "rate_limit_per_second",
    "ordering",
];

/// A choice of the form, or its default when empty (a new form).
fn chosen<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() {
        default
    } else {
        value
    }
}

/// One radio button per (value, what it means), the one equal to `checked` checked.
fn radio_choices(name: &str, choices: &[(&str, &str)], checked: &str) -> Markup {
    html! {
        @for (value, says) in choices {
            label {
                input type="radio" name=(name) value=(value) checked[checked == *value];
                span { code { (value) } " " span.muted { (says) } }
            }
        }
    }
}

/// The form field an error is shown beside, if any.
fn field_of(error: &Error) -> Option<&'static str> {
    error.field().filter(|f| FORM_FIELDS.contains(f))
}

/// The form to add a webhook (`editing` is `None`) or to edit one.
fn form_page(
    partner: &Partner,
    catalogue: &[EventType],
    form: &WebhookForm,
    editing: Option<&str>,
    error: Option<&Error>,
) -> Markup {
    let error_for = |field: &str| -> Option<String> {
        error
            .filter(|e| field_of(e) == Some(field))
            .map(|e| e.to_string())
    };
    let general = error.filter(|e| field_of(e).is_none()).map(message_of);
    let field_error = |field: &str| {
        html! { @if let Some(m) = error_for(field) { span.field-error role="alert" id={ (field) "-error" } { (m) } } }
    };
    let environment = chosen(&form.environment, "production");
    let ordering = chosen(&form.ordering, "none");
    let retry = chosen(&form.retry_policy, "hibob");
    let listed: Vec<&str> = catalogue.iter().map(|t| t.name.as_str()).collect();
    let others: Vec<&str> = form
        .event_types
        .iter()
        .map(String::as_str)
        .filter(|t| !listed.contains(t))
        .collect();
    let other_value = if form.other_event_types.is_empty() {
        others.join(", ")
    } else {
        form.other_event_types.clone()
    };
    let (title, action, submit) = match editing {
        None => (
            "Add a webhook",
            "/portal/webhooks".to_string(),
            "Add webhook",
        ),
        Some(id) => (
            "Edit the webhook",
            format!("/portal/webhooks/{id}/edit"),
            "Save",
        ),
    };
    layout(
        title,
        partner.nav(),
        html! {
            form.card method="post" action=(action) {
                @if let Some(message) = general { p.error role="alert" { (message) } }
                input type="hidden" name="csrf" value=(partner.csrf);
                label for="url" { "Listener URL" }
                input #url type="url" name="url" value=(form.url) required maxlength=(MAX_URL_LEN) placeholder="https://partner.example/hooks";
                (field_error("url"))
                label for="description" { "Description (" (WEBHOOK_DESCRIPTION_MAX) " characters at most)" }
                input #description type="text" name="description" value=(form.description) maxlength=(WEBHOOK_DESCRIPTION_MAX);
                (field_error("description"))
                label for="environment" { "Environment" }
                select #environment name="environment" {
                    @for env in ["production", "development"] {
                        option value=(env) selected[env == environment] { (env) }
                    }
                }
                (field_error("environment"))
                fieldset {
                    legend { "Event types" }
                    @if catalogue.is_empty() {
                        p.muted { "Your platform has not published its event-type catalogue yet; type the event types below." }
                    }
                    @for t in catalogue {
                        label {
                            input type="checkbox" name="event_types" value=(t.name) checked[form.event_types.contains(&t.name)];
                            span { code { (t.name) } @if t.deprecated { " (deprecated)" } " " span.muted { (t.description) } }
                        }
                    }
                    label for="other_event_types" { "Other types or wildcards, comma-separated (all types when empty)" }
                    input #other_event_types type="text" name="other_event_types" value=(other_value) placeholder="employee.*";
                    (field_error("event_types"))
                }
                label for="headers" { "Custom headers, one 'Name: value' per line" }
                textarea #headers name="headers" rows="3" placeholder="X-Partner-Token: …" { (form.headers) }
                (field_error("headers"))
                label for="timeout_seconds" { "Timeout in seconds (1–" (MAX_TIMEOUT.as_secs()) ", " (DEFAULT_TIMEOUT.as_secs()) " when empty)" }
                input #timeout_seconds type="number" min="1" max=(MAX_TIMEOUT.as_secs()) name="timeout_seconds" value=(form.timeout_seconds);
                (field_error("timeout_seconds"))
                fieldset {
                    legend { "Retries after a failure" }
                    (radio_choices("retry_policy", &PRESETS, retry))
                    label for="retry_offsets" { "Custom offsets: seconds after the first failure, comma-separated" }
                    input #retry_offsets type="text" name="retry_offsets" value=(form.retry_offsets) placeholder="30, 300, 3600";
                    (field_error("retry_policy"))
                }
                label for="rate_limit_per_second" { "Rate limit: attempts per second at most (1–" (RATE_LIMIT_MAX) ", none when empty)" }
                input #rate_limit_per_second type="number" min="1" max=(RATE_LIMIT_MAX) name="rate_limit_per_second" value=(form.rate_limit_per_second);
                (field_error("rate_limit_per_second"))
                fieldset {
                    legend { "Order" }
                    (radio_choices("ordering", &ORDERINGS, ordering))
                    (field_error("ordering"))
                }
                button type="submit" { (submit) }
            }
            @if let Some(id) = editing {
                form.card method="post" action={ "/portal/webhooks/" (id) "/delete" } {
                    h2 { "Delete" }
                    p.muted { "Deletes the webhook with its deliveries and their log. Events stop reaching this URL at once." }
                    input type="hidden" name="csrf" value=(partner.csrf);
                    button.danger type="submit" { "Delete this webhook" }
                }
            }
        },
    )
}

/// A refused form again, with the use case's message beside its field and the status
/// the API would answer; a failure of the gateway itself is an error page.
async fn refused(
    gw: &Gateway,
    partner: &Partner,
    form: &WebhookForm,
    editing: Option<&str>,
    e: Error,
) -> Response {
    let page = async {
        let catalogue = catalogue::list(gw).await.unwrap_or_default();
        Ok::<_, PageError>(form_page(partner, &catalogue, form, editing, Some(&e)))
    };
    refused_form(&e, page).await
}

pub async fn new_form(State(gw): State<Gateway>, partner: Partner) -> Result<Markup, PageError> {
    let catalogue = catalogue::list(&gw).await?;
    Ok(form_page(
        &partner,
        &catalogue,
        &WebhookForm::default(),
        None,
        None,
    ))
}

pub async fn create(
    State(gw): State<Gateway>,
    Posted { session, form }: Posted<Partner, WebhookForm>,
) -> Response {
    let created = match form.fields(false) {
        Ok(fields) => {
            webhooks::create(&gw, &session.caller(), session.app_id.clone(), fields).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(webhook) => Redirect::to(&format!("/portal/webhooks/{}", webhook.id)).into_response(),
        Err(e) => refused(&gw, &session, &form, None, e).await,
    }
}

pub async fn edit_form(
    State(gw): State<Gateway>,
    partner: Partner,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let webhook = webhooks::get(&gw, &partner.caller(), &partner.app_id, &id).await?;
    let catalogue = catalogue::list(&gw).await?;
    let form = WebhookForm::of(&webhook);
    Ok(form_page(&partner, &catalogue, &form, Some(&id), None))
}

pub async fn update(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<Partner, WebhookForm>,
) -> Result<Response, PageError> {
    let caller = session.caller();
    // Another app's webhook is a 404 page, not a form.
    let webhook = webhooks::get(&gw, &caller, &session.app_id, &id).await?;
    let updated = match form.fields(true) {
        Ok(fields) => webhooks::update(&gw, webhook, fields).await,
        Err(e) => Err(e),
    };
    Ok(match updated {
        Ok(webhook) => Redirect::to(&format!("/portal/webhooks/{}", webhook.id)).into_response(),
        Err(e) => refused(&gw, &session, &form, Some(&id), e).await,
    })
}

pub async fn delete(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<Partner, CsrfForm>,
) -> Result<Redirect, PageError> {
    webhooks::delete(&gw, &session.caller(), &session.app_id, &id).await?;
    Ok(Redirect::to("/portal/webhooks"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::retry::{CustomPolicy, RetryPolicySpec};

    #[test]
    fn errors_land_beside_the_field_they_name() {
        let invalid = |field| Error::invalid(field, "refused");
        for field in FORM_FIELDS {
            assert_eq!(field_of(&invalid(field)), Some(field));
        }
        // Not on the form, or about no field: above the form.
        assert_eq!(field_of(&invalid("max_concurrency")), None);
        assert_eq!(field_of(&Error::invalid_request("refused")), None);
        assert_eq!(
            field_of(&Error::LimitReached {
                kind: crate::usecases::LimitKind::Count,
                message: "this app already has 10 webhooks".into()
            }),
            None
        );
        let bad_timeout = WebhookForm {
            timeout_seconds: "soon".into(),
            ..Default::default()
        };
        assert_eq!(
            bad_timeout.fields(false).err().and_then(|e| e.field()),
            Some("timeout_seconds")
        );
        let bad_offsets = WebhookForm {
            retry_policy: "custom".into(),
            retry_offsets: "30, later".into(),
            ..Default::default()
        };
        assert_eq!(
            bad_offsets.fields(false).err().and_then(|e| e.field()),
            Some("retry_policy")
        );
    }

    #[test]
    fn an_edit_form_gives_back_what_is_stored() {
        let form = WebhookForm {
            headers: "X-Token: abc\n\n  X-Team:  payroll \n".into(),
            retry_policy: "custom".into(),
            retry_offsets: "30, 300".into(),
            rate_limit_per_second: String::new(),
            ..Default::default()
        };
        let fields = form.fields(true).unwrap();
        let headers = fields.headers.unwrap();
        assert_eq!(headers["X-Token"], "abc");
        assert_eq!(headers["X-Team"], "payroll");
        assert_eq!(
            fields.rate_limit_per_second,
            Some(0),
            "an empty limit removes it"
        );
        assert_eq!(fields.event_types, Some(vec!["*".to_string()]));
        assert!(matches!(
            fields.retry_policy,
            Some(RetryPolicySpec::Custom(CustomPolicy { ref offsets_seconds, .. })) if offsets_seconds == &[30, 300]
        ));
        let created = form.fields(false).unwrap();
        assert_eq!(
            created.rate_limit_per_second, None,
            "the gateway's default applies"
        );
        assert!(WebhookForm {
            headers: "no colon".into(),
            ..Default::default()
        }
        .fields(false)
        .is_err());
    }
}
