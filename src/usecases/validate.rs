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
    let text = body.trim_ascii();
    if allow_empty && (text.is_empty() || text == b"null") {
        return Ok(T::default());
    }
    if text.first() != Some(&b'{') {
        // Rare: tell malformed JSON (400) from JSON that is not an object (422).
        serde_json::from_slice::<&serde_json::value::RawValue>(body)
            .map_err(|e| Error::MalformedJson(e.to_string()))?;
        return Err(not_an_object());
    }
    // One pass on the hot path (every publish comes through here).
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::invalid_request(e.to_string()),
        _ => Error::MalformedJson(e.to_string()),
    })
}

fn not_an_object() -> Error {
    Error::invalid_request("the body must be a JSON object")
}

/// Well-formed JSON `text` as `T`, a struct: only from an object (serde would also take
/// an array of its fields in order, which no client means).
pub fn parse_object<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    if !text.trim_start().starts_with('{') {
        return Err(not_an_object());
    }
    serde_json::from_str(text).map_err(|e| Error::invalid_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        #[allow(dead_code)]
        name: Option<String>,
    }

    fn parse(body: &str, allow_empty: bool) -> Result<Fields> {
        parse_json(body.as_bytes(), allow_empty)
    }

    #[test]
    fn a_body_is_an_object_and_malformed_json_is_told_apart() {
        assert!(parse(r#" {"name": "a"} "#, false).is_ok());
        assert!(matches!(parse("[null]", false), Err(Error::Invalid { .. })));
        assert!(matches!(parse("\"a\"", false), Err(Error::Invalid { .. })));
        assert!(matches!(parse("[1,", false), Err(Error::MalformedJson(_))));
        assert!(matches!(
            parse(r#"{"name": "a""#, false),
            Err(Error::MalformedJson(_))
        ));
        assert!(matches!(
            parse(r#"{"x": 1}"#, false),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(parse("null", false), Err(Error::Invalid { .. })));
        assert!(parse(" null ", true).is_ok());
        assert!(parse("", true).is_ok());
        assert!(matches!(parse("", false), Err(Error::MalformedJson(_))));
    }
}
