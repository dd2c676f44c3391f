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
/// and other non-public ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
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
}

/// Checks a listener URL as written. Hostnames are checked again when resolved at send time.
pub fn validate_url(raw: &str, policy: TargetPolicy) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("url is longer than {MAX_URL_LEN} characters"));
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
    let private = match url.host() {
        None => return Err("url has no host".into()),
        Some(Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        Some(Host::Domain(d)) => {
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
        let dev = TargetPolicy {
            allow_insecure: true,
            allow_private: true,
        };
        assert!(validate_url("http://127.0.0.1:9000/hook", dev).is_ok());
    }
}
