//! The checks every resource's fields share.

use super::contract::{ID_MAX, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use super::{Error, Result};

/// Client-chosen ids (tenants, apps, events): what a platform's own ids look like, and
/// nothing that could confuse a path.
pub fn validate_id(field: &'static str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= ID_MAX
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
            format!(
                "{field} must be 1 to {ID_MAX} characters of letters, digits, '_', '-', '.' or ':'"
            ),
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

/// A list's text filters, each `(name, value)`: text, so no database refuses them.
pub fn validate_filters(filters: &[(&'static str, Option<&str>)]) -> Result<()> {
    for (field, value) in filters {
        if let Some(value) = value {
            validate_text(field, value, super::contract::FILTER_MAX, true)?;
        }
    }
    Ok(())
}

/// `limit` of a list: [`PAGE_LIMIT_DEFAULT`] when absent, at most [`PAGE_LIMIT_MAX`].
pub fn page_limit(limit: Option<i64>) -> Result<i64> {
    match limit {
        None => Ok(PAGE_LIMIT_DEFAULT),
        Some(n @ 1..=PAGE_LIMIT_MAX) => Ok(n),
        Some(_) => Err(Error::invalid(
            "limit",
            format!("limit must be between 1 and {PAGE_LIMIT_MAX}"),
        )),
    }
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A JSON body, which is an object: malformed JSON is [`Error::MalformedJson`],
/// well-formed JSON of another shape [`Error::Invalid`]. An empty body, or `null`, is
/// `T::default()` where `allow_empty`.
pub fn parse_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
    allow_empty: bool,
) -> Result<T> {
    if allow_empty && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let raw: &serde_json::value::RawValue =
        serde_json::from_slice(body).map_err(|e| Error::MalformedJson(e.to_string()))?;
    if allow_empty && raw.get() == "null" {
        return Ok(T::default());
    }
    parse_object(raw.get())
}

/// Well-formed JSON `text` as `T`, a struct: only from an object (serde would also take
/// an array of its fields in order, which no client means).
pub fn parse_object<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    if !text.trim_start().starts_with('{') {
        return Err(Error::invalid_request("the body must be a JSON object"));
    }
    serde_json::from_str(text).map_err(|e| Error::invalid_request(e.to_string()))
}
