//! Outbound network grants: the `scheme://host[:port]` destinations a
//! function's role lets it call, in the pattern syntax of Spin's
//! `allowed_outbound_hosts`. Nothing is reachable unless a grant names it.
//!
//! This is the decision only, as pure data: [`Grants::check_destination`]
//! before a name is resolved, [`Grants::check_address`] for every address the
//! name resolved to. The runtime (`runtime/outbound.rs`) connects to a checked
//! address, never to the name, so a granted name cannot be pointed at a denied
//! address between the check and the connection.
//!
//! Patterns:
//! - scheme: `http`, `https` or `*`;
//! - host: a name (`api.example.com`), every subdomain of one
//!   (`*.example.com`, not the name itself), any host (`*`), an address
//!   (`10.0.0.7`, `[::1]`) or a block (`10.0.0.0/8`);
//! - port: a number, a range (`8000..8099`, both ends included), or `*`; left
//!   out, the scheme's (80, 443); required with scheme `*`.
//!
//! Addresses of the host itself (loopback, unspecified, link-local, and the
//! cloud metadata address `169.254.169.254` inside it) are reachable only
//! through a grant naming them: an address or block containing it, or
//! `localhost` when the request is to `localhost`. `*://*:*` reaches every
//! public address and none of these. Port 25 is blocked whatever the grants
//! say, as Lambda blocks outbound SMTP.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// The port Lambda blocks for outbound connections (SMTP).
pub const BLOCKED_PORT: u16 = 25;

/// A URL scheme a request can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The port a URL of this scheme uses when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// Parses `http` or `https` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Some(Self::Https)
        } else {
            None
        }
    }
}

/// The host a request names: a DNS name (lower case, no trailing dot) or an
/// address literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestHost {
    /// A name to resolve.
    Name(String),
    /// An address written in the URL.
    Ip(IpAddr),
}

impl DestHost {
    /// Reads a URL's host: `[::1]` and `10.0.0.1` are addresses, anything
    /// else a name (lower-cased, trailing dot removed).
    pub fn parse(host: &str) -> Result<Self, String> {
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| Self::Ip(IpAddr::V6(ip).to_canonical()))
                .map_err(|_| format!("`{host}` is not an IPv6 address"));
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(Self::Ip(IpAddr::V4(ip)));
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty()
            || name.len() > 253
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            || name
                .split('.')
                .any(|label| label.is_empty() || label.len() > 63)
        {
            return Err(format!("`{host}` is not a valid host name"));
        }
        Ok(Self::Name(name))
    }
}

impl fmt::Display for DestHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Where a request goes, as its URL says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host.
    pub host: DestHost,
    /// The port (the scheme's when the URL names none).
    pub port: u16,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// What kind of host-local address an address is, when it is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialAddress {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `0.0.0.0/8`, `::` (connecting to it reaches the host itself).
    Unspecified,
    /// `169.254.169.254` and `fd00:ec2::254`: the cloud instance metadata service.
    Metadata,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
}

impl SpecialAddress {
    /// How a denial names it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address",
            Self::Unspecified => "an unspecified address (the host itself)",
            Self::Metadata => "the cloud metadata address",
            Self::LinkLocal => "a link-local address",
        }
    }
}

/// Whether `ip` is an address of the host itself, which needs a grant naming it.
pub fn special_address(ip: IpAddr) -> Option<SpecialAddress> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some(SpecialAddress::Loopback)
            } else if o[0] == 0 {
                Some(SpecialAddress::Unspecified)
            } else if o == [169, 254, 169, 254] {
                Some(SpecialAddress::Metadata)
            } else if v4.is_link_local() {
                Some(SpecialAddress::LinkLocal)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_loopback() {
                Some(SpecialAddress::Loopback)
            } else if v6.is_unspecified() {
                Some(SpecialAddress::Unspecified)
            } else if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254] {
                Some(SpecialAddress::Metadata)
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some(SpecialAddress::LinkLocal)
            } else {
                None
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Any,
    Name(String),
    /// `*.example.com`, stored as `.example.com`.
    Subdomains(String),
    Block(IpAddr, u8),
}

impl HostPattern {
    fn matches(&self, host: &DestHost) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::Name(n), DestHost::Name(h)) => n == h,
            (Self::Subdomains(suffix), DestHost::Name(h)) => {
                h.len() > suffix.len() && h.ends_with(suffix.as_str())
            }
            (Self::Block(net, bits), DestHost::Ip(ip)) => in_block(*ip, *net, *bits),
            _ => false,
        }
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip.to_canonical(), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// One parsed grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    text: String,
    scheme: Option<Scheme>,
    host: HostPattern,
    ports: (u16, u16),
}

impl Grant {
    /// Parses a pattern such as `https://*.example.com` or `http://127.0.0.1:8000..8099`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
            format!("`{text}`: expected scheme://host[:port], for example https://api.example.com")
        })?;
        let scheme = match scheme {
            "*" => None,
            s => Some(Scheme::parse(s).ok_or_else(|| {
                format!("`{text}`: the scheme must be http, https or *, not `{s}`")
            })?),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) && !is_block(rest) {
            return Err(format!(
                "`{text}`: a grant names a host and a port, without a path, query or user"
            ));
        }
        let (host, port) = split_host_port(rest)
            .ok_or_else(|| format!("`{text}`: cannot read the host and port"))?;
        let host = parse_host_pattern(host).map_err(|m| format!("`{text}`: {m}"))?;
        let ports = match (port, scheme) {
            (None, Some(s)) => (s.default_port(), s.default_port()),
            (None, None) => {
                return Err(format!(
                    "`{text}`: with scheme * name the port too (a number, a range such as 8000..8099, or *)"
                ));
            }
            (Some("*"), _) => (1, u16::MAX),
            (Some(p), _) => parse_ports(p).map_err(|m| format!("`{text}`: {m}"))?,
        };
        Ok(Self {
            text: trimmed.to_owned(),
            scheme,
            host,
            ports,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches_scheme_port(&self, dest: &Destination) -> bool {
        self.scheme.is_none_or(|s| s == dest.scheme)
            && (self.ports.0..=self.ports.1).contains(&dest.port)
    }

    fn matches(&self, dest: &Destination) -> bool {
        self.matches_scheme_port(dest) && self.host.matches(&dest.host)
    }

    /// Whether this grant names `ip` (a host-local address) explicitly for `dest`.
    fn names_address(&self, dest: &Destination, ip: IpAddr) -> bool {
        if !self.matches_scheme_port(dest) {
            return false;
        }
        match &self.host {
            HostPattern::Block(net, bits) => in_block(ip, *net, *bits),
            HostPattern::Name(n) => {
                n == "localhost"
                    && dest.host == DestHost::Name("localhost".to_owned())
                    && special_address(ip) == Some(SpecialAddress::Loopback)
            }
            HostPattern::Any | HostPattern::Subdomains(_) => false,
        }
    }
}

fn is_block(s: &str) -> bool {
    s.split_once('/').is_some_and(|(_, rest)| {
        rest.split(':')
            .next()
            .is_some_and(|b| b.parse::<u8>().is_ok())
    })
}

/// Splits `host[:port]`, `[v6][:port]` and `net/bits[:port]`.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let (host, rest) = s.split_at(end + 1);
        // A block of IPv6 addresses: `[fd00::]/8` or `[fd00::]/8:443`.
        let (host_len, rest) = match rest.strip_prefix('/') {
            Some(r) => {
                let bits_len = r.find(':').unwrap_or(r.len());
                (end + 2 + bits_len, &r[bits_len..])
            }
            None => (host.len(), rest),
        };
        let host = &s[..host_len];
        return match rest {
            "" => Some((host, None)),
            r => r.strip_prefix(':').map(|p| (host, Some(p))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p))),
        None => Some((s, None)),
    }
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some((net, bits)) = host.split_once('/') {
        let net = net.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = net
            .parse()
            .map_err(|_| format!("`{net}` is not an address for a block"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("`/{bits}`: a block's prefix length is 0–{max}"))?;
        return Ok(HostPattern::Block(ip.to_canonical(), bits));
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        return match DestHost::parse(suffix)? {
            DestHost::Name(n) => Ok(HostPattern::Subdomains(format!(".{n}"))),
            DestHost::Ip(_) => Err("`*.` goes before a name, not an address".to_owned()),
        };
    }
    if host.contains('*') {
        return Err(format!(
            "`{host}`: a wildcard is `*` or `*.` before a name (for example *.example.com)"
        ));
    }
    Ok(match DestHost::parse(host)? {
        DestHost::Name(n) => HostPattern::Name(n),
        DestHost::Ip(ip) => HostPattern::Block(ip, if ip.is_ipv4() { 32 } else { 128 }),
    })
}

fn parse_ports(p: &str) -> Result<(u16, u16), String> {
    let port = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`{s}` is not a port (1–65535)"))
    };
    match p.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if a > b {
                return Err(format!("the port range {a}..{b} is empty"));
            }
            Ok((a, b))
        }
        None => port(p).map(|n| (n, n)),
    }
}

/// Why a request was refused before it left the function.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// No grant matches the URL's scheme, host and port.
    #[error("not in the role's outbound grants")]
    NotGranted,
    /// Port 25.
    #[error("port 25 is blocked for outbound connections, as in Lambda")]
    BlockedPort,
    /// The host is, or resolved to, an address of the host itself that no
    /// grant names.
    #[error("{} is {}, which the role's outbound grants do not name", .ip, .kind.describe())]
    HostAddress {
        /// The address.
        ip: IpAddr,
        /// What kind it is.
        kind: SpecialAddress,
    },
}

/// A role's outbound grants, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants(Vec<Grant>);

impl Grants {
    /// Parses every pattern; all problems at once.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, Vec<String>> {
        let mut grants = Vec::new();
        let mut errors = Vec::new();
        for p in patterns {
            match Grant::parse(p.as_ref()) {
                Ok(g) => grants.push(g),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Self(grants))
        } else {
            Err(errors)
        }
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The grants, as written.
    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.0.iter()
    }

    /// The first check, on the URL: a grant must match its scheme, host and port.
    pub fn check_destination(&self, dest: &Destination) -> Result<(), Denial> {
        if dest.port == BLOCKED_PORT {
            return Err(Denial::BlockedPort);
        }
        if !self.0.iter().any(|g| g.matches(dest)) {
            return Err(Denial::NotGranted);
        }
        if let DestHost::Ip(ip) = dest.host {
            self.check_address(dest, ip)?;
        }
        Ok(())
    }

    /// The second check, on each address the host resolved to: an address of
    /// the host itself needs a grant naming it.
    pub fn check_address(&self, dest: &Destination, ip: IpAddr) -> Result<(), Denial> {
        let ip = ip.to_canonical();
        match special_address(ip) {
            Some(kind) if !self.0.iter().any(|g| g.names_address(dest, ip)) => {
                Err(Denial::HostAddress { ip, kind })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(url: &str) -> Destination {
        let (scheme, rest) = url.split_once("://").unwrap();
        let scheme = Scheme::parse(scheme).unwrap();
        let (host, port) = split_host_port(rest).unwrap();
        Destination {
            scheme,
            host: DestHost::parse(host).unwrap(),
            port: port.map_or(scheme.default_port(), |p| p.parse().unwrap()),
        }
    }

    fn grants(p: &[&str]) -> Grants {
        Grants::parse(p).unwrap()
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let g = Grants::default();
        assert_eq!(
            g.check_destination(&dest("https://example.com")),
            Err(Denial::NotGranted)
        );
    }

    #[test]
    fn names_schemes_and_ports_match_exactly() {
        let g = grants(&["https://api.example.com"]);
        assert!(
            g.check_destination(&dest("https://api.example.com"))
                .is_ok()
        );
        assert!(
            g.check_destination(&dest("https://API.example.com."))
                .is_ok()
        );
        for denied in [
            "http://api.example.com",
            "https://api.example.com:8443",
            "https://example.com",
            "https://x.api.example.com",
            "https://api.example.com.evil.test",
        ] {
            assert_eq!(
                g.check_destination(&dest(denied)),
                Err(Denial::NotGranted),
                "{denied}"
            );
        }
    }

    #[test]
    fn wildcards_for_subdomains_ports_and_schemes() {
        let g = grants(&["https://*.example.com", "*://svc.test:8000..8002"]);
        assert!(g.check_destination(&dest("https://a.example.com")).is_ok());
        assert!(
            g.check_destination(&dest("https://a.b.example.com"))
                .is_ok()
        );
        assert!(g.check_destination(&dest("https://example.com")).is_err());
        assert!(
            g.check_destination(&dest("https://badexample.com"))
                .is_err()
        );
        assert!(g.check_destination(&dest("http://svc.test:8002")).is_ok());
        assert!(g.check_destination(&dest("https://svc.test:8000")).is_ok());
        assert!(g.check_destination(&dest("http://svc.test:8003")).is_err());
        let any = grants(&["https://example.com:*"]);
        assert!(
            any.check_destination(&dest("https://example.com:1"))
                .is_ok()
        );
    }

    #[test]
    fn port_25_is_blocked_even_when_granted() {
        let g = grants(&["*://*:*"]);
        assert_eq!(
            g.check_destination(&dest("http://mail.example.com:25")),
            Err(Denial::BlockedPort)
        );
    }

    #[test]
    fn host_addresses_need_a_grant_naming_them() {
        let everything = grants(&["*://*:*"]);
        assert!(
            everything
                .check_destination(&dest("https://93.184.215.14"))
                .is_ok()
        );
        for (url, kind) in [
            ("http://127.0.0.1:8080", SpecialAddress::Loopback),
            ("http://127.9.9.9:8080", SpecialAddress::Loopback),
            ("http://[::1]:8080", SpecialAddress::Loopback),
            ("http://[::ffff:127.0.0.1]:8080", SpecialAddress::Loopback),
            ("http://0.0.0.0:8080", SpecialAddress::Unspecified),
            ("http://169.254.169.254", SpecialAddress::Metadata),
            ("http://[fd00:ec2::254]", SpecialAddress::Metadata),
            ("http://169.254.1.1", SpecialAddress::LinkLocal),
            ("http://[fe80::1]", SpecialAddress::LinkLocal),
        ] {
            assert!(
                matches!(everything.check_destination(&dest(url)), Err(Denial::HostAddress { kind: k, .. }) if k == kind),
                "{url}"
            );
        }
        let named = grants(&[
            "http://127.0.0.1:8080",
            "http://[::1]:*",
            "http://localhost:9000",
        ]);
        assert!(
            named
                .check_destination(&dest("http://127.0.0.1:8080"))
                .is_ok()
        );
        assert!(
            named
                .check_destination(&dest("http://127.0.0.1:8081"))
                .is_err()
        );
        assert!(named.check_destination(&dest("http://[::1]:1234")).is_ok());
        // `localhost` names the loopback for requests to `localhost` only.
        let local = dest("http://localhost:9000");
        assert!(named.check_destination(&local).is_ok());
        assert!(
            named
                .check_address(&local, "127.0.0.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            named
                .check_address(&local, "169.254.169.254".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn a_granted_name_resolving_to_a_host_address_is_denied() {
        let g = grants(&["http://api.example.test:8080"]);
        let d = dest("http://api.example.test:8080");
        assert!(g.check_destination(&d).is_ok());
        assert_eq!(
            g.check_address(&d, "127.0.0.1".parse().unwrap()),
            Err(Denial::HostAddress {
                ip: "127.0.0.1".parse().unwrap(),
                kind: SpecialAddress::Loopback
            })
        );
        assert!(g.check_address(&d, "10.1.2.3".parse().unwrap()).is_ok());
        // Unless an address grant names it.
        let both = grants(&["http://api.example.test:8080", "http://127.0.0.0/8:8080"]);
        assert!(both.check_address(&d, "127.0.0.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn malformed_patterns_say_what_is_wrong() {
        let errs = Grants::parse(&[
            "example.com",
            "ftp://example.com",
            "https://exa*mple.com",
            "*://example.com",
            "https://example.com:0",
            "https://example.com:9..1",
            "https://example.com/path",
            "https://10.0.0.0/33",
            "https://",
        ])
        .unwrap_err();
        assert_eq!(errs.len(), 9, "{errs:#?}");
        assert!(
            errs[0].contains("expected scheme://host[:port]"),
            "{}",
            errs[0]
        );
        assert!(errs[1].contains("http, https or *"), "{}", errs[1]);
        assert!(errs[3].contains("name the port"), "{}", errs[3]);
        assert!(errs[5].contains("empty"), "{}", errs[5]);
        assert!(errs[6].contains("without a path"), "{}", errs[6]);
        let ok = grants(&[
            "https://10.0.0.0/8",
            "http://[fd00::]/8:443",
            "https://example.com/",
        ]);
        assert!(ok.check_destination(&dest("https://10.200.0.1")).is_ok());
        assert!(ok.check_destination(&dest("http://[fd12::1]:443")).is_ok());
        assert!(ok.check_destination(&dest("https://example.com")).is_ok());
    }
}
