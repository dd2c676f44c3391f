//! Page layout and the pieces every page shares, as maud templates: escaped by
//! construction, no asset outside the binary, usable without JavaScript.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::domain::health::WebhookHealth;

/// Small and self-contained: readable at 360 px, a visible focus ring.
const STYLE: &str = r#"
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#fff}
header .who{margin-left:auto}
main{max-width:60rem;margin:0 auto;padding:1rem}
a{color:#1a56c4}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
table{border-collapse:collapse;width:100%;background:#fff}
.scroll{overflow-x:auto}
.scroll:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
svg.chart{background:#fff;max-width:100%;height:auto}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #dde1e7;vertical-align:top}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.85rem;font-weight:600}
.healthy{background:#d9f2e3;color:#135c32}.unavailable{background:#fdebd0;color:#7a4a00}.deactivated{background:#f9d6d5;color:#8a1c17}
form.card,.card{background:#fff;padding:1rem;border:1px solid #dde1e7;border-radius:.4rem;margin:1rem 0}
label{display:block;font-weight:600;margin-top:.75rem}
input[type=text],input[type=url],input[type=password],input[type=number],select,textarea{width:100%;padding:.45rem;border:1px solid #9aa4b2;border-radius:.3rem;font:inherit}
fieldset{border:1px solid #dde1e7;margin-top:.75rem}
fieldset label{font-weight:normal;display:flex;gap:.4rem;align-items:baseline;margin:.2rem 0}
button{margin-top:1rem;padding:.5rem 1rem;border:0;border-radius:.3rem;background:#1a56c4;color:#fff;font:inherit;cursor:pointer}
td button{margin-top:0}
button.danger{background:#b42318}
td form{display:inline-block;margin-right:.4rem}
button.link{background:none;color:#fff;text-decoration:underline;margin:0;padding:0}
.error{color:#8a1c17;font-weight:600}
.field-error{color:#8a1c17;display:block}
.muted{color:#5b6573}
.nowrap{white-space:nowrap}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
code{word-break:break-all}
pre{white-space:pre-wrap;background:#f4f6f8;padding:.5rem;overflow-x:auto}
details summary{cursor:pointer;font-weight:600}
"#;

/// The two areas the gateway serves pages for: the partner portal and the platform console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Portal,
    Console,
}

impl Area {
    fn name(self) -> &'static str {
        match self {
            Area::Portal => "portal",
            Area::Console => "console",
        }
    }

    /// Where the area's pages live, and the path of its cookies.
    pub fn path(self) -> &'static str {
        match self {
            Area::Portal => "/portal",
            Area::Console => "/console",
        }
    }

    pub fn sign_in_path(self) -> &'static str {
        match self {
            Area::Portal => "/portal/login",
            Area::Console => "/console/login",
        }
    }

    /// The cookie that carries a signed-in session's token.
    pub fn session_cookie(self) -> &'static str {
        match self {
            Area::Portal => "hg_portal",
            Area::Console => "hg_console",
        }
    }

    /// The cookie that carries the sign-in form's CSRF token, before there is a session.
    pub fn sign_in_cookie(self) -> &'static str {
        match self {
            Area::Portal => "hg_portal_login",
            Area::Console => "hg_console_login",
        }
    }

    /// Where "back" goes from an error page.
    fn home(self) -> (&'static str, &'static str) {
        match self {
            Area::Portal => ("/portal/webhooks", "Back to your webhooks"),
            Area::Console => ("/console/", "Back to the console"),
        }
    }

    /// Says what `Nav::who` names.
    fn who(self) -> &'static str {
        match self {
            Area::Portal => "App ",
            Area::Console => "Platform operator",
        }
    }

    fn links(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Area::Portal => &[
                ("/portal/webhooks", "Webhooks"),
                ("/portal/notifications", "Notifications"),
                ("/portal/notifications/destinations", "Destinations"),
                ("/portal/keys", "Keys"),
            ],
            Area::Console => &[
                ("/console/", "Overview"),
                ("/console/tenants", "Tenants"),
                ("/console/apps", "Apps"),
                ("/console/installations", "Installations"),
                ("/console/event-types", "Event types"),
                ("/console/publish", "Publish"),
            ],
        }
    }
}

/// The signed-in header: who (an app id, or the platform) and the sign-out form's token.
pub struct Nav<'a> {
    pub area: Area,
    pub who: &'a str,
    pub csrf: &'a str,
}

/// A whole portal page. `nav` is the signed-in app with its sign-out form, when there is
/// one.
pub fn layout(title: &str, nav: Option<Nav>, body: Markup) -> Markup {
    let area = nav.as_ref().map_or(Area::Portal, |n| n.area);
    page(area, title, nav, None, body)
}

/// A page of `area` with nobody signed in (sign-in forms, errors).
pub fn signed_out_layout(area: Area, title: &str, body: Markup) -> Markup {
    page(area, title, None, None, body)
}

/// The sign-in form of `area`: one secret key, and the sign-in form's CSRF token.
pub fn sign_in_page(
    area: Area,
    title: &str,
    intro: Markup,
    key_label: &str,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    signed_out_layout(
        area,
        title,
        html! {
            form.card method="post" action=(area.sign_in_path()) {
                p.muted { (intro) }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                input type="hidden" name="csrf" value=(csrf);
                label for="key" { (key_label) }
                input #key type="password" name="key" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A page that moves on to `next` at once. Arriving from another site (a portal link in
/// the platform's dashboard), the browser withholds the SameSite=Strict session cookie
/// from every request of that navigation, redirects included; the navigation this page
/// starts is the portal's own, so the cookie goes with it.
pub fn continue_to(next: &str) -> Markup {
    page(
        Area::Portal,
        "Signed in",
        None,
        Some(next),
        html! { p { a href=(next) { "Continue to your webhooks" } } },
    )
}

fn page(area: Area, title: &str, nav: Option<Nav>, refresh: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(next) = refresh {
                    meta http-equiv="refresh" content={ "0;url=" (next) };
                }
                title { (title) " · hookgate " (area.name()) }
                style { (maud::PreEscaped(STYLE)) }
            }
            // A fresh id per rendering: lets a browser test know a new page arrived.
            body data-render=(uuid::Uuid::new_v4().simple()) {
                header {
                    strong { "hookgate" }
                    @if let Some(nav) = nav {
                        @for (href, label) in area.links() { a href=(href) { (label) } }
                        span.who {
                            (area.who()) @if !nav.who.is_empty() { code { (nav.who) } } " · "
                            form method="post" action={ (area.path()) "/logout" } style="display:inline" {
                                input type="hidden" name="csrf" value=(nav.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// An error as a page of `area` with its status: the use case's message, never a stack
/// or a 500 for a client's mistake.
pub fn error_page_in(area: Area, status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let (home, back) = area.home();
    let page = signed_out_layout(
        area,
        title,
        html! {
            p.error { (message) }
            p { a href=(home) { (back) } }
        },
    );
    (status, page).into_response()
}

/// A webhook's health state as a coloured badge.
pub fn badge(health: &WebhookHealth) -> Markup {
    let state = health.state.as_str();
    html! { span.badge.(state) { (state) } }
}

pub fn rate(health: &WebhookHealth) -> String {
    match health.window_failure_rate {
        Some(r) => format!(
            "{:.0} % of {} attempts failed",
            r * 100.0,
            health.window_attempts
        ),
        None => "no attempts in the last window".into(),
    }
}
