//! The rules of webhooks: which addresses an endpoint may have, how a
//! delivery is signed, when it is retried, given up, and when an endpoint
//! that keeps failing is disabled. Pure: the delivery worker
//! (`crate::webhooks`) and the API apply them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{Duration, NaiveDateTime};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::text::Invalid;

/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// What the deployment allows of endpoints (`--webhook-allow-http`,
/// `--webhook-allow-private`): both off in production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// Plain `http://` endpoints (development only).
    pub allow_http: bool,
    /// Loopback, private, link-local and other internal addresses (tests,
    /// or a gateway on the operator's own network).
    pub allow_private: bool,
}

/// An endpoint URL that passed the rules: `https` (or `http` when
/// allowed), a host, no credentials, no fragment, and, when the host is an
/// address, one that may be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(url::Url);

impl EndpointUrl {
    pub fn parse(raw: &str, reach: Reach) -> Result<Self, Invalid> {
        let invalid = |en: &'static str, zh: &'static str| Invalid::new("invalid_url", en, zh);
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(Invalid::new(
                "too_long",
                "At most 2048 characters.",
                "最多 2048 个字符。",
            ));
        }
        let url = url::Url::parse(raw.trim()).map_err(|_| invalid("Not a URL.", "不是有效的网址。"))?;
        match url.scheme() {
            "https" => {}
            "http" if reach.allow_http => {}
            "http" => {
                return Err(Invalid::new(
                    "https_required",
                    "Endpoints must use https.",
                    "回调地址必须使用 https。",
                ));
            }
            _ => return Err(invalid("Use an https URL.", "请使用 https 网址。")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "Credentials in the URL would be shown to every admin: sign with the secret instead.",
                "网址中不能包含用户名或密码，请用签名密钥验证。",
            ));
        }
        if url.fragment().is_some() {
            return Err(invalid(
                "A URL with a fragment (#) is not sent.",
                "网址不能包含 # 片段。",
            ));
        }
        let address = match url.host() {
            None => return Err(invalid("The URL names no host.", "网址缺少主机名。")),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
        };
        if let Some(ip) = address
            && !reach.allows(ip)
        {
            return Err(Invalid::new(
                "address_not_allowed",
                "The address is loopback, private, link-local or otherwise internal.",
                "该地址为本机、内网、链路本地或其他内部地址，不允许使用。",
            ));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Reach {
    /// Whether a delivery may connect to `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || !internal(ip)
    }
}

/// Addresses a delivery must not reach (server-side request forgery):
/// loopback, private, shared (CGNAT), link-local, multicast, broadcast,
/// unspecified, documentation, benchmarking and reserved ranges, and the
/// IPv6 forms that carry such an IPv4 address.
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking (RFC 2544)
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96).
    if segments[..6] == [0, 0, 0, 0, 0, 0] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = segments;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return ip.is_unspecified() || ip.is_loopback() || internal_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
}

/// The `Griddesk-Signature` header of `body` sent at `timestamp` (Unix
/// seconds): `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`,
/// the scheme of the well-known payment webhooks. A receiver recomputes it
/// with the secret, compares in constant time, and refuses a timestamp more
/// than 5 minutes from its own clock (a replayed request).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail here.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How long a receiver should accept a signature's timestamp (documented
/// for receivers; griddesk signs each attempt afresh).
pub const REPLAY_WINDOW_SECONDS: i64 = 300;

/// The first retry waits this long; each further one twice as long as the
/// one before, up to [`MAX_RETRY_DELAY_SECONDS`].
pub const FIRST_RETRY_DELAY_SECONDS: i64 = 30;
pub const MAX_RETRY_DELAY_SECONDS: i64 = 3600;

/// How long after its `failures`-th failed attempt a delivery is tried
/// again: exponential, capped at an hour, with "equal jitter": half the
/// delay fixed, half drawn from `jitter` (in 0..1), so endpoints that
/// failed together do not come back in step.
pub fn retry_delay(failures: i32, jitter: f64) -> Duration {
    let exponent = u32::try_from(failures.clamp(1, 20) - 1).unwrap_or(0);
    let full = FIRST_RETRY_DELAY_SECONDS
        .saturating_mul(1_i64 << exponent)
        .min(MAX_RETRY_DELAY_SECONDS);
    let half = full as f64 / 2.0;
    let jitter = jitter.clamp(0.0, 1.0);
    Duration::milliseconds(((half + half * jitter) * 1000.0) as i64)
}

/// How long deliveries are retried, and how long an endpoint may fail
/// before it is disabled (`--webhook-retry-hours`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryWindow(Duration);

impl RetryWindow {
    pub const DEFAULT_HOURS: u32 = 24;

    pub fn hours(hours: u32) -> Self {
        Self(Duration::hours(i64::from(hours.max(1))))
    }

    pub fn duration(self) -> Duration {
        self.0
    }

    /// Whether a delivery first queued at `created_at` whose attempt failed
    /// at `now` is given up (it stays in the log as `failed`, and an admin
    /// may redeliver it).
    pub fn gives_up(self, created_at: NaiveDateTime, now: NaiveDateTime) -> bool {
        now - created_at >= self.0
    }

    /// Whether an endpoint is disabled after this failure: it has failed
    /// [`DISABLE_AFTER_FAILURES`] times in a row or more, and for the whole
    /// window, not one success in between. A failing moment (a deploy, a
    /// restart) never disables it; a dead endpoint stops taking work.
    pub fn disables(self, consecutive_failures: i32, failing_since: NaiveDateTime, now: NaiveDateTime) -> bool {
        consecutive_failures >= DISABLE_AFTER_FAILURES && now - failing_since >= self.0
    }
}

impl Default for RetryWindow {
    fn default() -> Self {
        Self::hours(Self::DEFAULT_HOURS)
    }
}

/// Failed attempts in a row, at the least, before an endpoint is disabled.
pub const DISABLE_AFTER_FAILURES: i32 = 10;

/// Endpoints a community may register.
pub const MAX_ENDPOINTS_PER_COMMUNITY: i64 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Reach = Reach {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn endpoints_are_https_public_and_without_credentials() {
        assert!(EndpointUrl::parse("https://push.example.com/hook?x=1", STRICT).is_ok());
        assert!(EndpointUrl::parse("https://203.0.113.9/hook", STRICT).is_err()); // documentation
        assert!(EndpointUrl::parse("https://8.8.8.8/hook", STRICT).is_ok());
        let code = |raw: &str, reach| EndpointUrl::parse(raw, reach).err().map(|e| e.code);
        assert_eq!(code("http://push.example.com/", STRICT), Some("https_required"));
        assert_eq!(code("https://user:pw@push.example.com/", STRICT), Some("invalid_url"));
        assert_eq!(code("https://push.example.com/#frag", STRICT), Some("invalid_url"));
        assert_eq!(code("ftp://push.example.com/", STRICT), Some("invalid_url"));
        assert_eq!(code("not a url", STRICT), Some("invalid_url"));
        for internal in [
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a00:1]/",
            "https://2130706433/", // 127.0.0.1 as one number: the URL parser reads it as an address
        ] {
            assert_eq!(code(internal, STRICT), Some("address_not_allowed"), "{internal}");
        }
        let open = Reach {
            allow_http: true,
            allow_private: true,
        };
        assert!(EndpointUrl::parse("http://127.0.0.1:8080/hook", open).is_ok());
        assert_eq!(
            code(&format!("https://example.com/{}", "a".repeat(2100)), STRICT),
            Some("too_long")
        );
    }

    #[test]
    fn public_addresses_are_reachable() {
        for ip in ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(!internal(ip.parse().expect("an address")), "{ip}");
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_an_hour() {
        assert_eq!(retry_delay(1, 0.0), Duration::seconds(15));
        assert_eq!(retry_delay(1, 1.0), Duration::seconds(30));
        assert_eq!(retry_delay(2, 1.0), Duration::seconds(60));
        assert_eq!(retry_delay(5, 1.0), Duration::seconds(480));
        assert_eq!(retry_delay(8, 1.0), Duration::seconds(3600));
        assert_eq!(retry_delay(30, 0.5), Duration::seconds(2700));
        // Within a day of retrying, a delivery is tried some 30 times.
        let mut elapsed = Duration::zero();
        let mut attempts = 1;
        while elapsed < Duration::hours(24) {
            elapsed += retry_delay(attempts, 0.5);
            attempts += 1;
        }
        assert!((25..=40).contains(&attempts), "{attempts}");
    }

    #[test]
    fn an_endpoint_is_disabled_only_after_failing_for_the_whole_window() {
        let window = RetryWindow::default();
        let since = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .expect("a time")
            .naive_utc();
        assert!(!window.disables(100, since, since + Duration::hours(23)));
        assert!(!window.disables(9, since, since + Duration::hours(30)));
        assert!(window.disables(10, since, since + Duration::hours(24)));
        assert!(!window.gives_up(since, since + Duration::hours(23)));
        assert!(window.gives_up(since, since + Duration::hours(24)));
    }
}
