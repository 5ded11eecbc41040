//! Request rate limits (`--rate-limit`, `--rate-limit-burst`): GCRA limiters
//! (`governor`), one keyed by owner id for signed-in requests to `/api/*`, one
//! keyed by the client's address for everything else under `/auth/*` and
//! `/api/*` (sign-in, the public share routes, requests without a valid token).
//! Over the limit the answer is `429 rate_limited` with `Retry-After`, before any
//! S3 or key-service call.
//!
//! The client's address is the TCP peer's. Behind a load balancer or reverse
//! proxy that is the proxy's, for every client; `--trusted-proxy` names the
//! proxies whose `X-Forwarded-For` is believed ([`client_address`]). IPv6
//! clients are grouped by their /64 (one host usually holds a whole /64).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, FromRequestParts as _, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Checks between two sweeps of idle keys out of the limiters' tables.
const SWEEP_EVERY: u64 = 4096;

/// The limiters of one server.
pub struct RateLimits {
    users: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpNet>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    /// `per_second` requests per second per user (and per client address), up to
    /// `burst` at once; `None` when `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32, trusted_proxies: &[IpNet]) -> Option<Self> {
        let per_second = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Self {
            users: DefaultKeyedRateLimiter::keyed(quota),
            addresses: DefaultKeyedRateLimiter::keyed(quota),
            trusted_proxies: trusted_proxies.to_vec(),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        })
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.users.retain_recent();
            self.addresses.retain_recent();
        }
    }

    /// `Ok` when `owner` may make a request now, else how long to wait.
    fn check_user(&self, owner: &str) -> Result<(), std::time::Duration> {
        self.sweep();
        self.users
            .check_key(&owner.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// `Ok` when the client at `address` may make a request now, else how long to wait.
    fn check_address(&self, address: IpAddr) -> Result<(), std::time::Duration> {
        self.sweep();
        self.addresses
            .check_key(&address_key(address))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// The limiter's key of an address: IPv4 as is (also when IPv4-mapped), IPv6 by
/// its /64.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// The address of the client behind a request from `peer`. When `peer` is one of
/// `trusted` proxies, `X-Forwarded-For` (all its lines, comma-separated, each
/// entry an IP address and nothing else) is read from the right: each trusted
/// proxy appended the address it was connected from, so the first entry that is
/// not a trusted proxy is the client; entries left of it were written by the
/// client and are never believed. When the header is missing or an entry that
/// has to be read is not a bare IP address, the answer is `peer` (the proxy):
/// such requests share the proxy's limit rather than escape it.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        entries.extend(text.split(',').map(str::trim));
    }
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>() else {
            return peer;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Middleware: a signed-in request to `/api/*` counts against its user (the
/// caller is verified once here and reused by the route); any other request to
/// `/api/*` or `/auth/*` counts against its client address.
pub async fn limit(
    State((state, limits)): State<(Arc<AppState>, Option<Arc<RateLimits>>)>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/");
    if !api && !path.starts_with("/auth/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    if api
        && parts.headers.contains_key(header::AUTHORIZATION)
        && let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await
    {
        if let Some(limits) = &limits
            && let Err(wait) = limits.check_user(&caller.owner)
        {
            return too_many_requests(wait, "this account");
        }
        parts.extensions.insert(caller);
        return next.run(Request::from_parts(parts, body)).await;
    }
    // No valid token: sign-in, the public share routes, or a request the route
    // refuses (401). A router served without connection info (no peer) is not limited.
    if let Some(limits) = &limits
        && let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>()
    {
        let client = client_address(peer.ip(), &parts.headers, &limits.trusted_proxies);
        if let Err(wait) = limits.check_address(client) {
            return too_many_requests(wait, "this address");
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

fn too_many_requests(wait: std::time::Duration, from: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "too many requests from {from}: wait {secs} second{} and try again",
            if secs == 1 { "" } else { "s" }
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// Parses a `--trusted-proxy` value: an IP address or a network (`10.0.0.0/8`,
/// `fd00::/8`).
///
/// # Errors
/// When it is neither.
pub fn parse_trusted_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!(
                "'{s}' is not an IP address or network (such as 10.0.0.5, 10.0.0.0/8 or fd00::/8)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                "x-forwarded-for",
                HeaderValue::from_str(v).expect("test header"),
            );
        }
        h
    }

    fn proxies() -> Vec<IpNet> {
        vec![
            parse_trusted_proxy("10.0.0.0/8").expect("net"),
            parse_trusted_proxy("192.0.2.1").expect("addr"),
        ]
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.4"), &h, &proxies()),
            ip("198.51.100.4")
        );
        assert_eq!(client_address(ip("10.1.2.3"), &h, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let p = proxies();
        let peer = ip("10.1.2.3");
        assert_eq!(
            client_address(peer, &forwarded(&["203.0.113.9"]), &p),
            ip("203.0.113.9")
        );
        // What the client wrote itself (left of the last untrusted hop) is not believed.
        let h = forwarded(&["1.1.1.1, 203.0.113.9, 10.9.9.9"]);
        assert_eq!(client_address(peer, &h, &p), ip("203.0.113.9"));
        // Several header lines are one list.
        let h = forwarded(&["garbage, 203.0.113.9", "192.0.2.1"]);
        assert_eq!(client_address(peer, &h, &p), ip("203.0.113.9"));
        let h = forwarded(&["2001:db8::7"]);
        assert_eq!(client_address(peer, &h, &p), ip("2001:db8::7"));
        // Only proxies: the leftmost.
        assert_eq!(
            client_address(peer, &forwarded(&["10.5.5.5, 192.0.2.1"]), &p),
            ip("10.5.5.5")
        );
    }

    #[test]
    fn a_missing_or_malformed_header_counts_as_the_proxy() {
        let p = proxies();
        let peer = ip("10.1.2.3");
        assert_eq!(client_address(peer, &HeaderMap::new(), &p), peer);
        for bad in [
            "203.0.113.9:443",
            "[2001:db8::7]",
            "unknown",
            "",
            "203.0.113.9 x",
            "203.0.113.9,",
        ] {
            assert_eq!(
                client_address(peer, &forwarded(&[bad]), &p),
                peer,
                "{bad:?}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"203.0.113.\xff").expect("opaque"),
        );
        assert_eq!(client_address(peer, &h, &p), peer);
    }

    #[test]
    fn trusted_proxies_parse_strictly() {
        assert!(parse_trusted_proxy("10.0.0.0/8").is_ok());
        assert!(parse_trusted_proxy("::1").is_ok());
        assert!(parse_trusted_proxy("fd00::/8").is_ok());
        for bad in ["", "10.0.0.0/33", "10.0.0.1:80", "example.com", "10.0.0"] {
            assert!(parse_trusted_proxy(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(address_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(address_key(ip("203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn addresses_and_users_have_their_own_limits() {
        let limits = RateLimits::new(1, 2, &[]).expect("on");
        let a = ip("203.0.113.9");
        assert!(limits.check_address(a).is_ok());
        assert!(limits.check_address(a).is_ok());
        assert!(limits.check_address(a).is_err());
        assert!(limits.check_address(ip("203.0.113.10")).is_ok());
        assert!(limits.check_user("alice").is_ok());
        assert!(RateLimits::new(0, 5, &[]).is_none());
    }
}
