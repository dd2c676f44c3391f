//! DNS resolution for deliveries, with the SSRF guard applied to every resolved address:
//! a listener whose name resolves to a loopback, private or link-local address is refused
//! at connect time, whatever the name looked like when the webhook was saved.
//!
//! Lookups go through hickory's asynchronous resolver, each bounded by its own timeout:
//! `getaddrinfo` on tokio's blocking pool keeps a thread per lookup until the system
//! gives up, whatever the attempt's timeout, so one partner's deliberately slow DNS
//! server could take every thread and stall DNS for every partner.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::target::is_private;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("refused: {name} resolves only to private, loopback or link-local addresses")]
    PrivateTarget { name: String },
    #[error("DNS lookup of {name} failed: {message}")]
    Lookup { name: String, message: String },
    #[error("DNS lookup of {name} took longer than {} ms", timeout.as_millis())]
    Timeout { name: String, timeout: Duration },
    #[error("DNS lookup of {name} returned no address")]
    NoAddress { name: String },
}

/// Where names are looked up, and for how long at most.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Name servers; empty: the system's (`/etc/resolv.conf`, and `/etc/hosts`).
    pub servers: Vec<SocketAddr>,
    pub timeout: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct GuardedResolver {
    allow_private: bool,
    /// Fixed answers for some names, like curl's `--resolve` (split-horizon DNS, tests).
    overrides: Arc<HashMap<String, IpAddr>>,
    /// The resolver, or why none could be set up (every lookup then says so).
    dns: Arc<Result<TokioResolver, String>>,
    timeout: Duration,
}

impl GuardedResolver {
    /// With the system's name servers.
    pub fn new(allow_private: bool, overrides: HashMap<String, IpAddr>) -> Self {
        Self::with_dns(allow_private, overrides, &DnsSettings::default())
    }

    pub fn with_dns(
        allow_private: bool,
        overrides: HashMap<String, IpAddr>,
        dns: &DnsSettings,
    ) -> Self {
        Self {
            allow_private,
            overrides: Arc::new(overrides),
            dns: Arc::new(build_resolver(dns)),
            timeout: dns.timeout,
        }
    }

    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let found: Vec<SocketAddr> = match self.overrides.get(&name) {
            Some(ip) => vec![SocketAddr::new(*ip, 0)],
            None => self.resolve_name(&name).await?,
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

impl GuardedResolver {
    async fn resolve_name(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let lookup_error = |message: String| ResolveError::Lookup {
            name: name.to_string(),
            message,
        };
        let resolver = self
            .dns
            .as_ref()
            .as_ref()
            .map_err(|e| lookup_error(e.clone()))?;
        match tokio::time::timeout(self.timeout, resolver.lookup_ip(name)).await {
            Err(_) => Err(ResolveError::Timeout {
                name: name.to_string(),
                timeout: self.timeout,
            }),
            Ok(Err(e)) => Err(lookup_error(e.to_string())),
            Ok(Ok(found)) => Ok(found.iter().map(|ip| SocketAddr::new(ip, 0)).collect()),
        }
    }
}

fn build_resolver(dns: &DnsSettings) -> Result<TokioResolver, String> {
    let mut builder = if dns.servers.is_empty() {
        TokioResolver::builder_tokio()
            .map_err(|e| format!("the system's DNS configuration cannot be read: {e}"))?
    } else {
        let servers = dns
            .servers
            .iter()
            .map(|addr| {
                let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                    .into_iter()
                    .map(|mut c| {
                        c.port = addr.port();
                        c
                    })
                    .collect();
                NameServerConfig::new(addr.ip(), true, connections)
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    let options = builder.options_mut();
    // Each query within the whole lookup's bound, which `resolve_name` enforces.
    options.timeout = dns.timeout;
    options.attempts = 1;
    builder.build().map_err(|e| e.to_string())
}

/// Parses name servers, `ip` or `ip:port` (53 by default).
pub fn parse_servers(servers: &[String]) -> Result<Vec<SocketAddr>, String> {
    servers
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| format!("DNS server {s:?} is not ip or ip:port"))
        })
        .collect()
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

    /// A name server that never answers: each lookup ends at its own timeout and takes
    /// no thread of the blocking pool (`getaddrinfo` would): with the pool's only thread
    /// held, 200 lookups still end, and an overridden name still resolves.
    #[test]
    fn a_silent_name_server_costs_one_timeout_and_no_thread() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        runtime.block_on(async move {
            let blocker = tokio::task::spawn_blocking(move || held.recv());
            let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let dns = DnsSettings {
                servers: vec![silent.local_addr().unwrap()],
                timeout: Duration::from_millis(300),
            };
            let guarded =
                GuardedResolver::with_dns(true, overrides(&["fixed.example.com=127.0.0.1"]), &dns);
            let lookups = (0..200).map(|i| {
                let guarded = guarded.clone();
                tokio::spawn(async move { guarded.lookup(&format!("h{i}.slow.example")).await })
            });
            let all =
                tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(lookups))
                    .await
                    .expect("lookups wait for no blocking thread");
            for lookup in all {
                let err = lookup.unwrap().unwrap_err();
                assert!(
                    matches!(
                        err,
                        ResolveError::Timeout { .. } | ResolveError::Lookup { .. }
                    ),
                    "{err}"
                );
            }
            assert_eq!(
                guarded.lookup("fixed.example.com").await.unwrap()[0]
                    .ip()
                    .to_string(),
                "127.0.0.1"
            );
            release.send(()).unwrap();
            blocker.await.unwrap().unwrap();
        });
    }

    #[test]
    fn servers_parse() {
        assert_eq!(
            parse_servers(&["127.0.0.1".into(), "[::1]:5353".into()]).unwrap(),
            [
                "127.0.0.1:53".parse().unwrap(),
                "[::1]:5353".parse().unwrap()
            ]
        );
        assert!(parse_servers(&["dns.example".into()]).is_err());
    }

    #[test]
    fn overrides_parse() {
        assert!(parse_overrides(&["a=1.2.3.4".into(), "b=::1".into()]).is_ok());
        assert!(parse_overrides(&["nope".into()]).is_err());
        assert!(parse_overrides(&["a=not-an-ip".into()]).is_err());
    }
}
