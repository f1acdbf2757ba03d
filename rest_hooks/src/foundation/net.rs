//! The SSRF guard: which targets the engine may call.
//!
//! Subscribers choose the URLs this server calls, so by default the engine refuses every address
//! that is not plainly public: loopback, private, link-local (cloud metadata at 169.254.169.254
//! included), shared CGNAT space, unique-local, multicast, unspecified, documentation, benchmarking
//! and reserved ranges, broadcast, and IPv6 addresses that embed a refused IPv4 address
//! (IPv4-mapped, IPv4-compatible, NAT64 and 6to4) — every range of the IANA IPv4 and IPv6
//! special-purpose registries that is not globally reachable, with the blocks reserved for IETF
//! protocol assignments (192.0.0.0/24, 2001::/23) refused whole, and the deprecated 6to4 relay
//! anycast (192.88.99.0/24) and ORCHID (2001:10::/28) ranges. IPv4 literals in decimal, octal or
//! hex forms (`http://2130706433/`, `http://0x7f.1/`) are normalised by the URL parser to dotted
//! form first, so they are checked like any other address.
//!
//! Host names are refused when they are `localhost` (or end in `.localhost`) and when they are a
//! single label (`http://intranet/`, or `http:///intranet`, which parses to it): the resolver
//! would complete those with the server's DNS search domains, usually into its own network.
//!
//! Targets are checked twice. When a hook is saved, an IP literal host, a host name refused as
//! above, or a host name that does not resolve or resolves to any refused address is refused with
//! a [`ValidationError`] (the name is looked up once). When a request is sent, an IP literal and
//! the name's form are checked again, and a host name is resolved by [`GuardedResolver`], which
//! returns only the addresses that pass: the HTTP client connects to one of those and nothing
//! else, so a name that re-resolves to another address later (DNS rebinding) cannot slip past.
//! Redirects are never followed.
//!
//! Development receivers on `127.0.0.1` need an explicit
//! [`Builder::allow_targets`](crate::Builder::allow_targets). An HTTP proxy configured through the
//! environment would resolve names itself, out of the guard's sight: the engine's HTTP client uses no
//! proxy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::foundation::error::ValidationError;

/// Which targets an engine may call. Built by the [`Builder`](crate::Builder) from
/// `allow_targets`, `https_only` and `ssrf_guard`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPolicy {
    guard: bool,
    https_only: bool,
    allowed_nets: Vec<IpNet>,
    allowed_hosts: Vec<String>,
}

impl Default for TargetPolicy {
    /// The guard on, http and https both accepted, nothing allowed beyond public addresses.
    fn default() -> Self {
        Self { guard: true, https_only: false, allowed_nets: Vec::new(), allowed_hosts: Vec::new() }
    }
}

impl TargetPolicy {
    /// A policy that also allows `allow`: CIDRs (`127.0.0.1/32`, `fd00::/8`), single addresses, or
    /// host names (exact, case-insensitive), whatever they resolve to.
    pub fn new<S: AsRef<str>>(allow: impl IntoIterator<Item = S>) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in allow {
            let entry = entry.as_ref().trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                if net != net.trunc() {
                    return Err(format!("`{entry}` has host bits set; did you mean `{}`?", net.trunc()));
                }
                policy.allowed_nets.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                policy.allowed_nets.push(IpNet::from(ip));
            } else if is_host_name(entry) {
                policy.allowed_hosts.push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!("`{entry}` is neither a CIDR, an IP address nor a host name"));
            }
        }
        Ok(policy)
    }

    /// Refuses plain `http` targets when `https_only`. Default: `false`.
    pub fn https_only(mut self, https_only: bool) -> Self {
        self.https_only = https_only;
        self
    }

    /// Turns the address checks off when `guard` is false (the allow-list then does nothing).
    /// Default: `true`.
    pub fn guard(mut self, guard: bool) -> Self {
        self.guard = guard;
        self
    }

    /// Whether the address checks are on.
    pub fn is_guarded(&self) -> bool {
        self.guard
    }

    /// Checks a target when a hook is saved: its syntax, its scheme, and its host when that is an
    /// IP address or `localhost`. Other host names are checked when they are resolved.
    pub fn check(&self, target: &str) -> Result<Url, ValidationError> {
        let url = crate::foundation::hook::check_target(target)?;
        self.check_url(&url).map_err(|reason| ValidationError::Target { target: target.to_owned(), reason })?;
        Ok(url)
    }

    /// [`check`](Self::check), then, for a host name, one lookup through `resolver` (the system's
    /// when `None`): a name that does not resolve, or resolves to any refused address, is refused,
    /// naming the addresses. Allowed host names are not looked up. A name that passes is checked
    /// again whenever it is called.
    pub async fn check_resolving(
        &self,
        target: &str,
        resolver: Option<&Arc<dyn Resolve>>,
    ) -> Result<Url, ValidationError> {
        let url = self.check(target)?;
        let Some(name) = url.domain().map(|d| d.trim_end_matches('.').to_ascii_lowercase()) else {
            return Ok(url);
        };
        if !self.guard || self.allows_host(&name) {
            return Ok(url);
        }
        let refuse = |reason: String| ValidationError::Target { target: target.to_owned(), reason };
        let found = lookup(&name, resolver).await.map_err(|error| {
            refuse(format!(
                "its host `{name}` does not resolve ({error}); a target must resolve when it is saved; {ALLOW_HINT}"
            ))
        })?;
        if found.is_empty() {
            return Err(refuse(format!("its host `{name}` resolves to no address; {ALLOW_HINT}")));
        }
        let refused: Vec<String> = found
            .iter()
            .filter(|addr| self.check_ip(addr.ip()).is_err())
            .map(|addr| format!("{} ({})", addr.ip(), forbidden(addr.ip()).unwrap_or("refused")))
            .collect();
        if refused.is_empty() {
            return Ok(url);
        }
        Err(refuse(format!("its host `{name}` resolves to {}; {ALLOW_HINT}", refused.join(", "))))
    }

    /// The reason `url` may not be called, if any, without resolving its host.
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), String> {
        if self.https_only && url.scheme() != "https" {
            return Err("it is not https, and the engine accepts https targets only".to_owned());
        }
        let host = url.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.check_ip(ip);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if !self.guard || self.allows_host(&name) {
            return Ok(());
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return Err(format!("its host `{host}` is loopback; {ALLOW_HINT}"));
        }
        if !name.contains('.') {
            return Err(format!("its host `{host}` {SINGLE_LABEL}; {ALLOW_HINT}"));
        }
        Ok(())
    }

    /// The reason `ip` may not be called, if any.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if !self.guard || self.allowed_nets.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        let embedded = match ip {
            IpAddr::V6(v6) if !v6.is_unspecified() && !v6.is_loopback() => {
                embedded_v4(v6).and_then(|v4| Some((v4, forbidden_v4(v4)?)))
            }
            _ => None,
        };
        match (forbidden(ip), embedded) {
            (Some(_), Some((v4, class))) => {
                Err(format!("its address {ip} embeds {v4}, which is {class}; {ALLOW_HINT}"))
            }
            (Some(class), None) => Err(format!("its address {ip} is {class}; {ALLOW_HINT}")),
            (None, _) => Ok(()),
        }
    }

    fn allows_host(&self, name: &str) -> bool {
        self.allowed_hosts.iter().any(|allowed| allowed == name)
    }
}

const ALLOW_HINT: &str = "allow it explicitly with `Builder::allow_targets` for development";

/// Why a single-label host name (`http://intranet/`) is refused: the resolver would complete it
/// with the server's DNS search domains, which usually lead into the server's own network.
const SINGLE_LABEL: &str = "is a single-label name, which would resolve through the server's own DNS search \
     domains; use a fully qualified name";

/// How the subscription API shows a refusal of the guard to the owner of a hook.
#[cfg(feature = "api")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnerView<'a> {
    /// As it is, less the hint for the engine's developer: it is about how the target is written.
    Written(&'a str),
    /// In general terms: an address the server does not send to (an IP literal, `localhost`).
    Address,
    /// In general terms: a host name that does not resolve, or leads to such an address. Which of
    /// the two is not said: an owner could map the server's internal names with it.
    Name,
}

/// How the owner of a hook is shown `reason`, of a [`ValidationError::Target`], when it is a
/// refusal of the guard (`None` for the other reasons, which are shown as they are).
#[cfg(feature = "api")]
pub(crate) fn owner_view(reason: &str) -> Option<OwnerView<'_>> {
    let without_hint = reason.strip_suffix(ALLOW_HINT)?.strip_suffix("; ")?;
    Some(if without_hint.ends_with(SINGLE_LABEL) {
        OwnerView::Written(without_hint)
    } else if without_hint.contains("` resolves to ") || without_hint.contains("` does not resolve") {
        OwnerView::Name
    } else {
        OwnerView::Address
    })
}

/// The addresses `name` resolves to, through `resolver` (the system's when `None`).
async fn lookup(name: &str, resolver: Option<&Arc<dyn Resolve>>) -> Result<Vec<SocketAddr>, String> {
    match resolver {
        Some(resolver) => {
            let dns_name = name.parse::<Name>().map_err(|e| e.to_string())?;
            Ok(resolver.resolve(dns_name).await.map_err(|e| e.to_string())?.collect())
        }
        None => Ok(tokio::net::lookup_host((name, 0)).await.map_err(|e| e.to_string())?.collect()),
    }
}

fn is_host_name(entry: &str) -> bool {
    !entry.is_empty() && entry.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The class of addresses `ip` belongs to when the guard refuses it: `"loopback"`, `"private"`,
/// …; `None` for a public address.
///
/// ```
/// use rest_hooks::net::forbidden;
/// assert_eq!(forbidden("169.254.169.254".parse()?), Some("link-local"));
/// assert_eq!(forbidden("::ffff:10.0.0.1".parse()?), Some("an IPv4-mapped address of a refused IPv4 address"));
/// assert_eq!(forbidden("93.184.215.14".parse()?), None);
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => "broadcast",
        (0, ..) => "unspecified",
        (127, ..) => "loopback",
        (10, ..) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared address space (CGNAT)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (192, 0, 0) => "reserved for protocol assignments",
        (192, 88, 99) => "deprecated (6to4 relay anycast)",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4).map(|_| embedded_class(ip));
    }
    Some(match segments[0] {
        0x0064 if segments[1] == 0xff9b => "NAT64 local-use",
        0x0100 if segments[1..4] == [0, 0, 0] => "discard-only",
        0x2001 if segments[1] == 0 => "Teredo",
        0x2001 if segments[1] == 2 && segments[2] == 0 => "benchmarking",
        0x2001 if segments[1] & 0xfff0 == 0x0010 => "deprecated (ORCHID)",
        // 2001::/23, like 192.0.0.0/24 in IPv4, is refused whole.
        0x2001 if segments[1] < 0x0200 => "reserved for protocol assignments",
        0x2001 if segments[1] == 0x0db8 => "documentation",
        0x3fff if segments[1] < 0x1000 => "documentation",
        s if s & 0xfe00 == 0xfc00 => "unique-local",
        s if s & 0xffc0 == 0xfe80 => "link-local",
        s if s & 0xffc0 == 0xfec0 => "site-local",
        s if s & 0xff00 == 0xff00 => "multicast",
        s if s & 0xe000 != 0x2000 => "reserved",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn embedded_class(ip: Ipv6Addr) -> &'static str {
    match ip.segments() {
        [0x0064, ..] => "a NAT64 address of a refused IPv4 address",
        [0x2002, ..] => "a 6to4 address of a refused IPv4 address",
        [_, _, _, _, _, 0xffff, ..] => "an IPv4-mapped address of a refused IPv4 address",
        _ => "an IPv4-compatible address of a refused IPv4 address",
    }
}

/// The guard's refusal of a host name whose addresses are all refused. It travels inside the HTTP
/// client's error; the engine reports it as
/// [`DeliveryError::Forbidden`](crate::DeliveryError::Forbidden).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A DNS resolver that returns only the addresses the policy accepts, so that the HTTP client
/// connects to a checked address and nothing else. Names resolve through `inner` (the system's
/// resolver when `None`); allowed host names are passed through unfiltered.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
    inner: Option<Arc<dyn Resolve>>,
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl GuardedResolver {
    /// Resolves through `inner` (the system resolver when `None`) and filters by `policy`.
    pub fn new(policy: Arc<TargetPolicy>, inner: Option<Arc<dyn Resolve>>) -> Self {
        Self { policy, inner }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let inner = self.inner.clone();
        Box::pin(async move {
            let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
            let found: Vec<SocketAddr> = match inner {
                Some(inner) => inner.resolve(name).await?.collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if policy.allows_host(&host) {
                return Ok(Box::new(found.into_iter()) as Addrs);
            }
            let mut refused = Vec::new();
            let mut checked = Vec::new();
            for addr in found {
                match policy.check_ip(addr.ip()) {
                    Ok(()) => checked.push(addr),
                    Err(_) => refused.push(format!("{} ({})", addr.ip(), forbidden(addr.ip()).unwrap_or("refused"))),
                }
            }
            if checked.is_empty() {
                if refused.is_empty() {
                    return Err(format!("host `{host}` resolves to no address").into());
                }
                let reason = format!("host `{host}` resolves only to refused addresses: {}", refused.join(", "));
                return Err(Box::new(Refused(reason)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(checked.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<&'static str> {
        forbidden(ip.parse().unwrap())
    }

    #[test]
    fn an_allowed_cidr_with_host_bits_is_refused() {
        let error = TargetPolicy::new(["10.0.0.5/8"]).unwrap_err();
        assert_eq!(error, "`10.0.0.5/8` has host bits set; did you mean `10.0.0.0/8`?");
        assert!(TargetPolicy::new(["10.0.0.0/8", "127.0.0.1/32", "fd00::/8", "dev.test"]).is_ok());
    }

    #[test]
    fn classifies_every_refused_range() {
        for (ip, expected) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared address space (CGNAT)"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("2001:2::1", "benchmarking"),
            ("2001:2:0:ffff::1", "benchmarking"),
            ("192.0.0.9", "reserved for protocol assignments"),
            ("192.88.99.1", "deprecated (6to4 relay anycast)"),
            ("2001::1", "Teredo"),
            ("2001:10::1", "deprecated (ORCHID)"),
            ("2001:1::1", "reserved for protocol assignments"),
            ("2001:4:112::1", "reserved for protocol assignments"),
            ("2001:1ff:ffff::1", "reserved for protocol assignments"),
            ("3fff::1", "documentation"),
            ("100::1", "discard-only"),
            ("100:0:0:1::1", "reserved"),
            ("5f00::1", "reserved"),
            ("::ffff:127.0.0.1", "an IPv4-mapped address of a refused IPv4 address"),
            ("::ffff:169.254.169.254", "an IPv4-mapped address of a refused IPv4 address"),
            ("::10.0.0.1", "an IPv4-compatible address of a refused IPv4 address"),
            ("64:ff9b::a00:1", "a NAT64 address of a refused IPv4 address"),
            ("2002:7f00:1::", "a 6to4 address of a refused IPv4 address"),
        ] {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn lets_public_addresses_through() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2001:200::1",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
        assert_eq!(class("2002:808:808::1"), None);
        assert_eq!(class("64:ff9b::808:808"), None);
    }

    #[test]
    fn url_parsing_normalises_odd_ipv4_forms_before_the_check() {
        let policy = TargetPolicy::default();
        for target in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0177.0.0.01/",
            "http://127.0.0.1./",
            "http://[::ffff:7f00:1]/",
            "http://LOCALHOST/",
            "http://api.localhost./",
        ] {
            let error = policy.check(target).unwrap_err();
            assert!(error.to_string().contains("loopback"), "{target}: {error}");
        }
        assert!(policy.check("https://example.com/hooks").is_ok());
    }

    #[test]
    fn the_allow_list_and_https_only_apply() {
        let policy = TargetPolicy::new(["127.0.0.1/32", "::1", "Dev.Internal"]).unwrap();
        assert!(policy.check("http://127.0.0.1:8080/").is_ok());
        assert!(policy.check("http://[::1]/").is_ok());
        assert!(policy.check("http://127.0.0.2/").is_err());
        assert!(policy.check_ip("10.0.0.1".parse().unwrap()).is_err());
        assert!(policy.allows_host("dev.internal"));
        assert!(TargetPolicy::new(["10.0.0.0/33"]).is_err());
        let https = TargetPolicy::default().https_only(true);
        assert!(https.check("http://example.com/").unwrap_err().to_string().contains("https"));
        assert!(https.check("https://example.com/").is_ok());
        assert!(TargetPolicy::default().guard(false).check("http://10.0.0.1/").is_ok());
    }
}
