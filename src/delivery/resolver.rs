//! DNS resolution for deliveries, with the SSRF guard applied to every resolved address:
//! a listener whose name resolves to a loopback, private or link-local address is refused
//! at connect time, whatever the name looked like when the webhook was saved.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::target::is_private;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("refused: {name} resolves only to private, loopback or link-local addresses")]
    PrivateTarget { name: String },
    #[error("DNS lookup of {name} failed: {source}")]
    Lookup {
        name: String,
        source: std::io::Error,
    },
    #[error("DNS lookup of {name} returned no address")]
    NoAddress { name: String },
}

#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    allow_private: bool,
    /// Fixed answers for some names, like curl's `--resolve` (split-horizon DNS, tests).
    overrides: Arc<HashMap<String, IpAddr>>,
}

impl GuardedResolver {
    pub fn new(allow_private: bool, overrides: HashMap<String, IpAddr>) -> Self {
        Self {
            allow_private,
            overrides: Arc::new(overrides),
        }
    }

    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let found: Vec<SocketAddr> = match self.overrides.get(&name) {
            Some(ip) => vec![SocketAddr::new(*ip, 0)],
            None => tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(|source| ResolveError::Lookup {
                    name: name.clone(),
                    source,
                })?
                .collect(),
        };
        if found.is_empty() {
            return Err(ResolveError::NoAddress { name });
        }
        if self.allow_private {
            return Ok(found);
        }
        let public: Vec<SocketAddr> = found.into_iter().filter(|a| !is_private(a.ip())).collect();
        if public.is_empty() {
            return Err(ResolveError::PrivateTarget { name });
        }
        Ok(public)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Parses `host=ip` pairs.
pub fn parse_overrides(pairs: &[String]) -> Result<HashMap<String, IpAddr>, String> {
    pairs
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (host, ip) = pair
                .split_once('=')
                .ok_or_else(|| format!("DNS override {pair:?} is not host=ip"))?;
            let ip = ip
                .trim()
                .parse()
                .map_err(|_| format!("DNS override {pair:?}: {ip:?} is not an IP address"))?;
            Ok((host.trim().to_ascii_lowercase(), ip))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(pairs: &[&str]) -> HashMap<String, IpAddr> {
        parse_overrides(&pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let guarded = GuardedResolver::new(
            false,
            overrides(&[
                "sneaky.example.com=127.0.0.1",
                "meta.example.com=169.254.169.254",
            ]),
        );
        for name in ["sneaky.example.com", "META.example.com.", "localhost"] {
            let err = guarded.lookup(name).await.unwrap_err();
            assert!(
                matches!(err, ResolveError::PrivateTarget { .. }),
                "{name}: {err}"
            );
        }
        let open = GuardedResolver::new(true, overrides(&["sneaky.example.com=127.0.0.1"]));
        assert_eq!(
            open.lookup("sneaky.example.com").await.unwrap()[0]
                .ip()
                .to_string(),
            "127.0.0.1"
        );
    }

    /// A DNS answer can carry an IPv6 form of a private IPv4 address: each is refused
    /// when the name is resolved for a send (no connection is attempted).
    #[tokio::test]
    async fn answers_embedding_private_ipv4_addresses_are_refused() {
        let forms = [
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:0:7f00:1::ffff:fffe",
            "fec0::1",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
        ];
        let pairs: Vec<String> = forms
            .iter()
            .enumerate()
            .map(|(i, ip)| format!("h{i}.example.com={ip}"))
            .collect();
        let guarded = GuardedResolver::new(false, parse_overrides(&pairs).unwrap());
        for (i, ip) in forms.iter().enumerate() {
            let err = guarded.lookup(&format!("h{i}.example.com")).await;
            assert!(
                matches!(err, Err(ResolveError::PrivateTarget { .. })),
                "{ip}: {err:?}"
            );
        }
    }

    #[test]
    fn overrides_parse() {
        assert!(parse_overrides(&["a=1.2.3.4".into(), "b=::1".into()]).is_ok());
        assert!(parse_overrides(&["nope".into()]).is_err());
        assert!(parse_overrides(&["a=not-an-ip".into()]).is_err());
    }
}
