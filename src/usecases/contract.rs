//! The rules request fields meet, stated once. The use cases check these constants, the
//! OpenAPI document states them (the schema functions below, named in each request type's
//! `#[schema(schema_with = …)]`), and the portal's form shows them, so the three cannot
//! drift apart. JSON Schema counts characters (code points), as the checks do.

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::KnownFormat;

use crate::domain::model::MASK;

pub use crate::domain::fair_share::{MAX_WEIGHT, MIN_WEIGHT};
pub use crate::domain::filter::{EVENT_TYPE_MAX, EVENT_TYPE_SEGMENT_MAX};
pub use crate::domain::model::{MAX_BATCH, MAX_TIMEOUT};
pub use crate::domain::retry::{MAX_OFFSET_SECONDS, MAX_RETRIES};
pub use crate::domain::secrets::{MAX_SECRET_BYTES, SECRET_BYTES, SECRET_PREFIX};
pub use crate::domain::target::MAX_URL_LEN;

/// Client-chosen ids: tenants, apps, events.
pub const ID_MAX: usize = 128;
/// Names people read: tenants, apps.
pub const NAME_MAX: usize = 200;
pub const CLIENT_ID_MAX: usize = 255;
pub const WEBHOOK_DESCRIPTION_MAX: usize = 500;
pub const DESTINATION_DESCRIPTION_MAX: usize = 500;
pub const EVENT_TYPE_DESCRIPTION_MAX: usize = 1000;
pub const MAX_HEADERS: usize = 20;
pub const HEADER_NAME_MAX: usize = 256;
pub const HEADER_VALUE_MAX: usize = 1024;
pub const MAX_EVENT_TYPES: usize = 100;
pub const RATE_LIMIT_MAX: i64 = 10_000;
pub const MAX_CONCURRENCY_MAX: i64 = 1_000;
pub const PAGE_LIMIT_DEFAULT: i64 = 100;
pub const PAGE_LIMIT_MAX: i64 = 1000;
pub const IDEMPOTENCY_KEY_MAX: usize = 255;
/// A list's text filters (ids, types, cursors): any text a person could type.
pub const FILTER_MAX: usize = 200;
pub const DEFAULT_LINK_TTL_SECONDS: u64 = 15 * 60;
pub const MAX_LINK_TTL_SECONDS: u64 = 24 * 3600;
/// Longest serialized example kept with an event type.
pub const MAX_EXAMPLE_BYTES: usize = 16 * 1024;

/// What `validate_text` refuses: Unicode's control characters (`char::is_control`).
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";

pub fn text_pattern(allow_empty: bool) -> String {
    if allow_empty {
        format!("^[^{CONTROL}]*$")
    } else {
        // At least one character that `str::trim` keeps.
        format!("^[^{CONTROL}]*[^\\s{CONTROL}][^{CONTROL}]*$")
    }
}

pub fn id_pattern() -> String {
    format!(r"^(?!\.\.?$)[A-Za-z0-9_.:-]{{1,{ID_MAX}}}$")
}

fn event_type_segments() -> String {
    let segment = format!("[A-Za-z0-9_-]{{1,{EVENT_TYPE_SEGMENT_MAX}}}");
    format!(r"{segment}(?:\.{segment})*")
}

pub fn event_type_pattern() -> String {
    format!("^{}$", event_type_segments())
}

/// `*`, an event type, or an event type's prefix followed by `.*`.
pub fn event_type_filter_pattern() -> String {
    format!(
        r"^(?:\*|(?=.{{1,{EVENT_TYPE_MAX}}}(?:\.\*)?$){}(?:\.\*)?)$",
        event_type_segments()
    )
}

/// Headers hookgate sets itself, which a partner's custom headers may not name.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];
/// And any header starting so.
pub const RESERVED_HEADER_PREFIX: &str = "proxy-";

/// A header name (an RFC 9110 token), none of [`RESERVED_HEADERS`] in any case.
pub fn header_name_pattern() -> String {
    let any_case = |name: &str| -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let reserved: Vec<String> = RESERVED_HEADERS.iter().map(|h| any_case(h)).collect();
    format!(
        r"^(?!(?:{})$)(?!{})[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
        reserved.join("|"),
        any_case(RESERVED_HEADER_PREFIX)
    )
}

/// Tab and visible ASCII, as a header value may hold, but not the mask answers show.
pub fn header_value_pattern() -> String {
    let mask: String = MASK.chars().map(|c| format!("\\{c}")).collect();
    format!(r"^(?!{mask}$)[\t\u0020-\u007E]*$")
}

pub fn is_header_value(value: &str) -> bool {
    value.len() <= HEADER_VALUE_MAX
        && value
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Visible ASCII and inner spaces (HTTP drops outer ones).
pub fn idempotency_key_pattern() -> String {
    format!(
        r"^[\u0021-\u007E](?:[\u0020-\u007E]{{0,{}}}[\u0021-\u007E])?$",
        IDEMPOTENCY_KEY_MAX - 2
    )
}

/// An ordering key, as [`ordering::valid_key`](crate::domain::ordering::valid_key) checks.
pub fn ordering_key_pattern() -> String {
    format!(
        r"^[\u0021-\u007E]{{1,{}}}$",
        crate::domain::ordering::KEY_MAX
    )
}

pub fn is_idempotency_key(key: &str) -> bool {
    let visible = |b: &u8| (0x21..0x7f).contains(b);
    let bytes = key.as_bytes();
    (1..=IDEMPOTENCY_KEY_MAX).contains(&bytes.len())
        && bytes.first().is_some_and(visible)
        && bytes.last().is_some_and(visible)
        && bytes.iter().all(|b| (0x20..0x7f).contains(b))
}

/// `whsec_` and the standard base64 (padded, canonical) of 24 to 64 bytes.
pub fn secret_pattern() -> String {
    let quad = "[A-Za-z0-9+/]{4}";
    let one_more = "[A-Za-z0-9+/][AQgw]==";
    let two_more = "[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=";
    // 3 bytes a quad, plus 0, 1 or 2 in a padded tail: the tails that stay within bounds.
    let (min_quads, max_quads) = (SECRET_BYTES.div_ceil(3), MAX_SECRET_BYTES / 3);
    let mut forms = vec![format!(
        "(?:{quad}){{{min_quads},{}}}(?:{one_more}|{two_more})?",
        max_quads - 1
    )];
    let last = match MAX_SECRET_BYTES % 3 {
        0 => String::new(),
        1 => format!("(?:{one_more})?"),
        _ => format!("(?:{one_more}|{two_more})?"),
    };
    forms.push(format!("(?:{quad}){{{max_quads}}}{last}"));
    format!("^{SECRET_PREFIX}(?:{})$", forms.join("|"))
}

/// A port from 1 to 65535.
const PORT: &str =
    r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";
const IPV4_PART: &str = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";

/// An absolute URL without credentials or fragment, whose host is a DNS name (its last
/// label not numeric; the server also takes valid `xn--` labels, which are left out here
/// as a pattern cannot check their encoding) or an IPv4 address. Whether the host is private
/// is decided by the server's setting and, for names, again when they are resolved.
pub fn url_pattern(allow_insecure: bool) -> String {
    let scheme = if allow_insecure { "https?" } else { "https" };
    let label = r"(?![xX][nN]--)[A-Za-z0-9-]+";
    let name = format!(r"(?:{label}\.)*(?![xX][nN]--)[A-Za-z][A-Za-z0-9-]*\.?");
    let ipv4 = format!(r"{IPV4_PART}(?:\.{IPV4_PART}){{3}}");
    // RFC 3986's path and query characters, `%` only in an escape (no fragment).
    let rest = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*";
    format!(r"^{scheme}://(?:{name}|{ipv4})(?::{PORT})?(?:[/?]{rest})?$")
}

/// An AWS SQS queue URL, as [`queue_url_region`](crate::domain::destination::queue_url_region)
/// reads it.
pub fn queue_url_pattern() -> String {
    let name = format!(
        "(?:[A-Za-z0-9_-]{{1,{}}}|[A-Za-z0-9_-]{{1,{}}}\\.fifo)",
        crate::domain::destination::QUEUE_NAME_MAX,
        crate::domain::destination::QUEUE_NAME_MAX - 5
    );
    format!(r"^https://sqs\.{REGION}\.amazonaws\.com(?:\.cn)?/[0-9]{{12}}/{name}$")
}

/// An AWS region name: `us-east-1`, `us-gov-west-1`.
const REGION: &str = "[a-z]{2}(?:-[a-z]+){1,2}-[0-9]";

/// An IAM role's ARN, as [`is_role_arn`](crate::domain::destination::is_role_arn) reads it.
pub fn role_arn_pattern() -> String {
    r"^arn:aws(?:-cn|-us-gov)?:iam::[0-9]{12}:role/(?:[A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]+$"
        .into()
}

fn nullable(t: Type, nullable: bool) -> SchemaType {
    if nullable {
        SchemaType::Array(vec![t, Type::Null])
    } else {
        SchemaType::Type(t)
    }
}

fn string(pattern: String, min: usize, max: usize, null: bool) -> Object {
    ObjectBuilder::new()
        .schema_type(nullable(Type::String, null))
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .build()
}

fn integer(min: i64, max: i64, null: bool) -> Object {
    ObjectBuilder::new()
        .schema_type(nullable(Type::Integer, null))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min))
        .maximum(Some(max))
        .build()
}

/// The schemas named by `#[schema(schema_with = …)]`: one function each, as the derive
/// takes a path. `_or_null` where `null` is accepted (and means "leave as is" unless the
/// field says otherwise).
pub mod schema {
    use super::*;

    use utoipa::openapi::schema::Array;

    pub fn id() -> Object {
        string(id_pattern(), 1, ID_MAX, false)
    }
    pub fn id_or_null() -> Object {
        string(id_pattern(), 1, ID_MAX, true)
    }
    pub fn name() -> Object {
        string(text_pattern(false), 1, NAME_MAX, false)
    }
    pub fn name_or_null() -> Object {
        string(text_pattern(false), 1, NAME_MAX, true)
    }
    pub fn client_id_or_null() -> Object {
        let mut o = string(text_pattern(false), 1, CLIENT_ID_MAX, true);
        o.description = Some(
            "The OAuth client (RFC 9068 `client_id`) whose access tokens act for this app; \
             on update `null` removes it, and the client's tokens stop working at once."
                .into(),
        );
        o
    }
    pub fn event_type() -> Object {
        string(event_type_pattern(), 1, EVENT_TYPE_MAX, false)
    }
    pub fn event_type_description() -> Object {
        string(text_pattern(true), 0, EVENT_TYPE_DESCRIPTION_MAX, false)
    }
    pub fn event_type_description_or_null() -> Object {
        string(text_pattern(true), 0, EVENT_TYPE_DESCRIPTION_MAX, true)
    }
    pub fn webhook_description_or_null() -> Object {
        string(text_pattern(true), 0, WEBHOOK_DESCRIPTION_MAX, true)
    }
    pub fn ordering_key_or_null() -> Object {
        let mut o = string(
            ordering_key_pattern(),
            1,
            crate::domain::ordering::KEY_MAX,
            true,
        );
        o.description = Some(
            "What the event is about (`employee:E-1`), within its tenant: a webhook with \
             `ordering: per_key` gets one key's events one at a time, in publish order."
                .into(),
        );
        o
    }
    pub fn idempotency_key() -> Object {
        let mut o = string(idempotency_key_pattern(), 1, IDEMPOTENCY_KEY_MAX, false);
        o.description =
            Some("Makes a repeat a no-op: the original's answer is given again.".into());
        o
    }
    /// The URL of a webhook, as a server that refuses `http://` checks it.
    pub fn url_or_null() -> Object {
        let mut url = string(url_pattern(false), 1, MAX_URL_LEN, true);
        url.format = Some(SchemaFormat::Custom("uri".into()));
        url.description = Some(
            "An https URL (http only where the gateway allows insecure targets). Hosts that \
             are, or resolve to, private, loopback or link-local addresses are refused \
             unless the gateway allows private targets. IPv6 literals (`[…]`) and \
             internationalised names in their `xn--` form are accepted too."
                .into(),
        );
        url
    }
    pub fn destination_url() -> Object {
        let mut url = url_or_null();
        url.schema_type = SchemaType::Type(Type::String);
        url
    }
    pub fn queue_url(null: bool) -> Object {
        let max = MAX_URL_LEN;
        let mut o = string(queue_url_pattern(), 1, max, null);
        o.description = Some("`https://sqs.<region>.amazonaws.com/<account>/<name>`".into());
        o
    }
    pub fn queue_url_required() -> Object {
        queue_url(false)
    }
    pub fn queue_url_or_null() -> Object {
        queue_url(true)
    }
    pub fn role_arn_or_null() -> Object {
        let mut o = string(
            role_arn_pattern(),
            1,
            crate::domain::destination::ROLE_ARN_MAX,
            true,
        );
        o.description = Some(
            "A role in the partner's account that hookgate assumes (with this destination's \
             `external_id`) to send; without it hookgate sends with its own credentials. On \
             update `null` removes it."
                .into(),
        );
        o
    }
    pub fn destination_description_or_null() -> Object {
        string(text_pattern(true), 0, DESTINATION_DESCRIPTION_MAX, true)
    }
    pub fn severities_or_null() -> Array {
        ArrayBuilder::new()
            .schema_type(nullable(Type::Array, true))
            .items(utoipa::openapi::Ref::from_schema_name("Severity"))
            .min_items(Some(1))
            .max_items(Some(crate::domain::destination::ALL_SEVERITIES.len()))
            .unique_items(true)
            .description(Some("Which notifications it gets; all when absent."))
            .build()
    }
    pub fn secret_or_null() -> Object {
        let mut secret = string(secret_pattern(), 1, 200, true);
        secret.description = Some("A `whsec_…` secret of the partner's choosing (24 to 64 bytes, base64); generated when absent.".into());
        secret
    }
    pub fn event_types_or_null() -> Array {
        ArrayBuilder::new()
            .schema_type(nullable(Type::Array, true))
            .items(string(
                event_type_filter_pattern(),
                1,
                EVENT_TYPE_MAX + 2,
                false,
            ))
            .min_items(Some(1))
            .max_items(Some(MAX_EVENT_TYPES))
            .description(Some(
                "Event types this webhook receives: `*`, a type, or a prefix and `.*`.",
            ))
            .build()
    }
    pub fn headers_or_null() -> Object {
        ObjectBuilder::new()
            .schema_type(nullable(Type::Object, true))
            .property_names(Some(string(
                header_name_pattern(),
                1,
                HEADER_NAME_MAX,
                false,
            )))
            .additional_properties(Some(Schema::Object(string(
                header_value_pattern(),
                0,
                HEADER_VALUE_MAX,
                false,
            ))))
            .max_properties(Some(MAX_HEADERS))
            .description(Some(
                "Custom headers sent with every attempt (names case-insensitive). The value \
                 answers show, `********`, is refused: send the real value.",
            ))
            .build()
    }
    pub fn timeout_seconds_or_null() -> Object {
        integer(1, MAX_TIMEOUT.as_secs() as i64, true)
    }
    pub fn rate_limit_or_null() -> Object {
        let mut o = integer(0, RATE_LIMIT_MAX, true);
        o.description = Some(format!(
            "At most this many attempts per second (1–{RATE_LIMIT_MAX}); `0` removes the cap."
        ));
        o
    }
    pub fn delivery_weight(null: bool) -> Object {
        let mut o = integer(MIN_WEIGHT, MAX_WEIGHT, null);
        o.description = Some(format!(
            "The tenant's share of each of the app's listeners when several tenants have \
             deliveries due ({MIN_WEIGHT}–{MAX_WEIGHT}; a new installation's is 1)."
        ));
        o
    }
    pub fn delivery_weight_or_null() -> Object {
        delivery_weight(true)
    }
    pub fn delivery_weight_required() -> Object {
        delivery_weight(false)
    }
    pub fn max_concurrency_or_null() -> Object {
        let mut o = integer(0, MAX_CONCURRENCY_MAX, true);
        o.description = Some(format!(
            "At most this many attempts in flight at once (1–{MAX_CONCURRENCY_MAX}), below \
             the gateway's adaptive limit; `0` removes it."
        ));
        o
    }
    pub fn ttl_seconds_or_null() -> Object {
        let mut o = integer(1, MAX_LINK_TTL_SECONDS as i64, true);
        o.description = Some(format!(
            "How long the link works; {DEFAULT_LINK_TTL_SECONDS} s when absent."
        ));
        o
    }
    /// A list's text filter.
    pub fn filter() -> Object {
        string(text_pattern(true), 0, FILTER_MAX, false)
    }
    /// An app key's id: the first hex digits of its hash.
    pub fn key_id() -> Object {
        let digits = crate::domain::model::KEY_ID_DIGITS;
        string(format!("^[0-9a-f]{{{digits}}}$"), digits, digits, false)
    }
    /// A query's `limit`.
    pub fn page_limit() -> Object {
        let mut o = integer(1, PAGE_LIMIT_MAX, false);
        o.default = Some(PAGE_LIMIT_DEFAULT.into());
        o
    }
    /// A query's `outcome`: how an attempt ended.
    pub fn attempt_outcome() -> Object {
        let names = crate::domain::retry::AttemptClass::ALL.map(|c| c.as_str());
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .build()
    }
    /// A preset's name, or explicit offsets.
    pub fn retry_policy_or_null() -> Schema {
        let offsets = ArrayBuilder::new()
            .items(integer(1, MAX_OFFSET_SECONDS as i64, false))
            .max_items(Some(MAX_RETRIES))
            .unique_items(true)
            .description(Some(
                "Seconds after the first failure at which to retry; the order is the \
                 gateway's (ascending).",
            ));
        let custom = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("offsets_seconds", offsets)
            .required("offsets_seconds")
            .property(
                "retry_http_errors",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .default(Some(true.into())),
            )
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        Schema::OneOf(
            OneOfBuilder::new()
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(crate::domain::retry::PRESETS.iter().copied())),
                )
                .item(custom)
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .build(),
        )
    }
    /// A batch's events, each as `POST /v1/events` takes it.
    pub fn batch_events() -> Array {
        ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("PublishRequest"))
            .min_items(Some(1))
            .max_items(Some(MAX_BATCH))
            .description(Some(format!(
                "1 to {MAX_BATCH} events, stored all or none."
            )))
            .build()
    }
    /// A JSON object, or `null`.
    pub fn object_or_null() -> Object {
        ObjectBuilder::new()
            .schema_type(nullable(Type::Object, true))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .build()
    }
    pub fn object_or_null_at_most(bytes: usize) -> Object {
        let mut o = object_or_null();
        o.description = Some(format!("At most {bytes} bytes once serialized."));
        o
    }
    pub fn example_or_null() -> Object {
        object_or_null_at_most(MAX_EXAMPLE_BYTES)
    }
}
