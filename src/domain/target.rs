//! Which listener URLs hookgate will send to. Refusing loopback, private and link-local
//! targets keeps a partner from pointing the gateway at the platform's own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

#[derive(Debug, Clone, Copy)]
pub struct TargetPolicy {
    pub allow_insecure: bool,
    pub allow_private: bool,
}

pub const MAX_URL_LEN: usize = 2048;

/// Loopback, private, link-local (cloud metadata), unique-local, unspecified, multicast
/// and other non-public ranges. An IPv6 address that carries an IPv4 one (mapped,
/// compatible, NAT64, 6to4, Teredo) is judged by the IPv4 address too: a NAT64 form of
/// 169.254.169.254 reaches the metadata service as surely as the address itself.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6) || embedded_ipv4(v6).into_iter().any(is_private_v4),
    }
}

/// The IPv4 addresses an IPv6 address embeds, by the ranges that embed one.
fn embedded_ipv4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let last = v4(s[6], s[7]);
    match s {
        // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96.
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => vec![last],
        // NAT64, well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => vec![last],
        // 6to4 2002::/16: the IPv4 address follows the prefix.
        [0x2002, hi, lo, ..] => vec![v4(hi, lo)],
        // Teredo 2001::/32: the server's address, and the client's, inverted.
        [0x2001, 0, hi, lo, ..] => vec![v4(hi, lo), v4(!s[6], !s[7])],
        _ => Vec::new(),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first & 0xffc0) == 0xfec0 // site local (deprecated)
        || (ip.segments()[..3] == [0x64, 0xff9b, 1]) // local-use NAT64 64:ff9b:1::/48
}

/// The characters RFC 3986 allows in a URI, and `%` only as the start of an escape: what
/// the OpenAPI document's `format: uri` promises (the URL standard would also take spaces,
/// controls and any Unicode, escaping them itself).
fn is_uri_text(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
        _ => b"-._~:/?#[]@!$&'()*+,;=".contains(&b),
    })
}

/// Labels of letters, digits and hyphens, a trailing dot allowed: what DNS can resolve
/// (the URL standard would also take `*`, `$` and more in a host).
fn is_dns_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// Checks a listener URL as written. Hostnames are checked again when resolved at send time.
pub fn validate_url(raw: &str, policy: TargetPolicy) -> Result<Url, String> {
    if raw.chars().count() > MAX_URL_LEN {
        return Err(format!("url is longer than {MAX_URL_LEN} characters"));
    }
    if !is_uri_text(raw) {
        return Err(
            "url must be a URI: letters, digits and - . _ ~ : / ? # [ ] @ ! $ & ' ( ) \
             * + , ; = only, anything else percent-encoded (%XX)"
                .into(),
        );
    }
    let url = Url::parse(raw).map_err(|e| format!("url is not valid: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_insecure => {}
        "http" => return Err("url must use https".into()),
        other => return Err(format!("url scheme {other:?} is not supported; use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry credentials; use custom headers instead".into());
    }
    if url.fragment().is_some() {
        return Err("url must not have a fragment".into());
    }
    if url.port() == Some(0) {
        return Err("url port 0 is never a valid target".into());
    }
    let private = match url.host() {
        None => return Err("url has no host".into()),
        Some(Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        Some(Host::Domain(d)) => {
            if !is_dns_name(d) || !raw.to_ascii_lowercase().contains(d) {
                return Err("url's host must be a DNS name: letters, digits and '-' in \
                     dot-separated labels (an internationalised name in its xn-- form)"
                    .into());
            }
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || !d.contains('.')
        }
    };
    if private && !policy.allow_private {
        return Err("url points to a private, loopback or link-local address".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_insecure: false,
        allow_private: false,
    };

    #[test]
    fn refuses_internal_targets_by_default() {
        for bad in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::7f00:1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[64:ff9b:1::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://[2001:0:7f00:1::ffff:fffe]/",
            "https://[2001:0:5db8:d822::80ff:f5fe]/",
            "https://[fec0::1]/",
            "https://[ff02::1]/",
            "https://100.64.0.1/",
            "https://192.0.0.8/",
            "https://198.18.0.1/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://240.0.0.1/",
            "https://example.com:0/",
            "https://0.0.0.0/",
            "https://localhost/",
            "https://api.localhost/",
            "https://intranet/",
            "http://example.com/",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(validate_url(bad, STRICT).is_err(), "{bad}");
        }
    }

    #[test]
    fn accepts_public_https_and_dev_overrides() {
        assert!(validate_url("https://hooks.example.com/bob?x=1", STRICT).is_ok());
        assert!(validate_url("https://93.184.216.34/", STRICT).is_ok());
        // Embedding public IPv4 addresses is fine: NAT64, 6to4 and Teredo forms.
        assert!(validate_url("https://[64:ff9b::5db8:d822]/", STRICT).is_ok());
        assert!(validate_url("https://[2002:5db8:d822::1]/", STRICT).is_ok());
        assert!(validate_url("https://[2001:0:5db8:d822::a247:2dcb]/", STRICT).is_ok());
        assert!(validate_url("https://[2606:4700::1111]/", STRICT).is_ok());
        assert!(validate_url("https://example.com:8443/", STRICT).is_ok());
        assert!(
            validate_url("http://127.0.0.1:0/hook", dev_policy()).is_err(),
            "port 0"
        );
        assert!(validate_url("http://127.0.0.1:9000/hook", dev_policy()).is_ok());
    }

    #[test]
    fn hosts_are_dns_names() {
        for bad in [
            "https://0.com*/",
            "https://a..example.com/",
            "https://ex$ample.com/",
            "https://b\u{fc}cher.example/",
            "https://%61.example.com/",
            "https://hooks.example.com/caf\u{e9}",
            "https://hooks.example.com/a b",
            "https://hooks.example.com/\u{7}",
            "https://hooks.example.com/100%",
            "https://hooks.example.com/{x}",
        ] {
            assert!(validate_url(bad, STRICT).is_err(), "{bad}");
        }
        for good in [
            "https://hooks.example.com./",
            "https://xn--bcher-kva.example/",
            "https://Hooks.Example.COM/x",
            "https://hooks.example.com/caf%C3%A9?a=1&b=(2)",
        ] {
            assert!(validate_url(good, STRICT).is_ok(), "{good}");
        }
    }

    fn dev_policy() -> TargetPolicy {
        TargetPolicy {
            allow_insecure: true,
            allow_private: true,
        }
    }
}
