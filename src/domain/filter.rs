//! Event-type filters of partner webhooks: `*`, exact types, and `prefix.*` wildcards.

/// Event types and filter segments: lowercase-ish identifiers separated by dots.
/// The longest event type, and the longest of its dot-separated segments.
pub const EVENT_TYPE_MAX: usize = 200;
pub const EVENT_TYPE_SEGMENT_MAX: usize = 64;

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= EVENT_TYPE_SEGMENT_MAX
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn valid_event_type(t: &str) -> bool {
    t.len() <= EVENT_TYPE_MAX && t.split('.').all(valid_segment)
}

pub fn valid_pattern(p: &str) -> bool {
    match p.strip_suffix(".*") {
        _ if p == "*" => true,
        Some(prefix) => valid_event_type(prefix),
        None => valid_event_type(p),
    }
}

pub fn matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| {
        p == "*"
            || p == event_type
            || p.strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_exact_and_star() {
        assert!(matches(&pats(&["*"]), "employee.created"));
        assert!(matches(&pats(&["employee.*"]), "employee.created"));
        assert!(matches(&pats(&["employee.*"]), "employee.joined.team"));
        assert!(!matches(&pats(&["employee.*"]), "employees.created"));
        assert!(!matches(&pats(&["employee.*"]), "employee"));
        assert!(matches(&pats(&["a.b", "c.d"]), "c.d"));
        assert!(!matches(&pats(&["a.b"]), "a.bc"));
        assert!(!matches(&[], "a.b"));
    }

    #[test]
    fn pattern_validation() {
        for ok in ["*", "employee.*", "employee.created", "sync_start", "a-b.c"] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in ["", "employee.", ".x", "a..b", "emp*", "a b", "é.x", "*.x"] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}
