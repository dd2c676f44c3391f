//! The checks every resource's fields share.

use super::{Error, Result};

/// Client-chosen ids (tenants, apps, events): what a platform's own ids look like, and
/// nothing that could confuse a path.
pub fn validate_id(field: &'static str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        && id != "."
        && id != "..";
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be 1 to 128 characters of letters, digits, '_', '-', '.' or ':'"),
        ))
    }
}

/// Text a person reads: at most `max` characters, no control characters, and not blank
/// unless `allow_empty`.
pub fn validate_text(
    field: &'static str,
    value: &str,
    max: usize,
    allow_empty: bool,
) -> Result<()> {
    let len = value.chars().count();
    if (!allow_empty && value.trim().is_empty()) || len > max {
        return Err(Error::invalid(
            field,
            format!(
                "{field} must be {}at most {max} characters",
                if allow_empty { "" } else { "non-empty and " }
            ),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// `limit` of a list: 100 by default, at most 1000.
pub fn page_limit(limit: Option<i64>) -> Result<i64> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n),
        Some(_) => Err(Error::invalid("limit", "limit must be between 1 and 1000")),
    }
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A JSON body: malformed JSON is [`Error::MalformedJson`], well-formed JSON of the wrong
/// shape [`Error::Invalid`]. An empty body is `T::default()` where `allow_empty`.
pub fn parse_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
    allow_empty: bool,
) -> Result<T> {
    if allow_empty && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::invalid_request(e.to_string()),
        _ => Error::MalformedJson(e.to_string()),
    })
}
