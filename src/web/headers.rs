//! The headers every page answer carries: a CSP that allows the pages' own inline style
//! and nothing else (no script, no frame, no fetch), framing refused unless the operator
//! names the sites that may frame the portal, no MIME sniffing, no referrer (a portal
//! link's token must not leave in a `Referer`), no features the pages never use, and
//! nothing cached: the pages carry CSRF tokens, and one shows the signing secret.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

/// What `HOOKGATE_FRAME_ANCESTORS` may name: an origin, `scheme://host[:port]`, and
/// nothing a CSP could read as another directive or source.
pub fn valid_frame_ancestor(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && !origin.ends_with('/')
        && origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:/[]".contains(&b))
}

/// The page headers, built once.
pub struct PageHeaders {
    csp: HeaderValue,
    frame_options: Option<HeaderValue>,
}

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
/// Every feature the pages never use, off.
const CLOSED_FEATURES: &str = "accelerometer=(), camera=(), clipboard-read=(), \
     clipboard-write=(), display-capture=(), geolocation=(), gyroscope=(), \
     magnetometer=(), microphone=(), midi=(), payment=(), usb=()";

impl PageHeaders {
    /// `frame_ancestors`: origins valid by [`valid_frame_ancestor`] (settings check them);
    /// none refuses every frame.
    pub fn new(frame_ancestors: &[String]) -> Self {
        let ancestors = if frame_ancestors.is_empty() {
            "'none'".to_string()
        } else {
            frame_ancestors.join(" ")
        };
        let csp = format!(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        );
        Self {
            csp: HeaderValue::from_str(&csp).expect("origins checked by the settings"),
            // X-Frame-Options cannot name several sites: sent only when none may frame.
            frame_options: frame_ancestors
                .is_empty()
                .then(|| HeaderValue::from_static("DENY")),
        }
    }
}

/// `pages` with the page headers on every answer.
pub fn secured<S: Clone + Send + Sync + 'static>(
    pages: Router<S>,
    headers: PageHeaders,
) -> Router<S> {
    pages.layer(axum::middleware::from_fn_with_state(
        Arc::new(headers),
        add_page_headers,
    ))
}

async fn add_page_headers(
    State(page): State<Arc<PageHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, page.csp.clone());
    if let Some(deny) = &page.frame_options {
        headers.insert(X_FRAME_OPTIONS, deny.clone());
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        PERMISSIONS_POLICY,
        HeaderValue::from_static(CLOSED_FEATURES),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_origins_may_frame_the_pages() {
        for ok in [
            "https://dashboard.example",
            "https://dashboard.example:8443",
            "http://127.0.0.1:3000",
        ] {
            assert!(valid_frame_ancestor(ok), "{ok}");
        }
        for bad in [
            "*",
            "'self'",
            "https://a.example; script-src *",
            "https://a.example/path",
            "https://a.example/",
            "https://user@a.example",
            "javascript:alert(1)",
            "https://a.example 'unsafe-inline'",
            "",
        ] {
            assert!(!valid_frame_ancestor(bad), "{bad}");
        }
    }

    #[test]
    fn framing_is_refused_unless_sites_are_named() {
        let none = PageHeaders::new(&[]);
        assert!(none
            .csp
            .to_str()
            .unwrap()
            .ends_with("frame-ancestors 'none'"));
        assert_eq!(none.frame_options.as_ref().unwrap(), "DENY");
        let named = PageHeaders::new(&["https://dashboard.example".into()]);
        assert!(named
            .csp
            .to_str()
            .unwrap()
            .ends_with("frame-ancestors https://dashboard.example"));
        assert!(named.frame_options.is_none());
    }
}
