//! Following a redirect by hand: which statuses are followed, where to, and the next request's
//! method, body and headers (secret headers never cross to another origin).
//!
//! The executor's reqwest client follows no redirect itself: reqwest strips only
//! `Authorization`, `Cookie`, `Proxy-Authorization` and `WWW-Authenticate` on a cross-host hop, so
//! a job's `X-API-Key` would reach whatever host a redirect names. Instead,
//! [`super::HttpClient::execute`] loops over the hops and uses this module to build each next
//! request:
//!
//! - 301, 302, 303, 307 and 308 are followed; any other status (304, 300, …) is final.
//! - 303 becomes `GET` (`HEAD` stays `HEAD`) without body; 301 and 302 turn `POST` into `GET`
//!   without body; 307 and 308 keep the method and the body. A dropped body takes its
//!   `Content-Type`, `Content-Length`, `Content-Encoding` and `Transfer-Encoding` with it.
//! - `Location` is resolved against the current URL; a missing or unusable one is an error.
//! - On a hop to another origin (scheme, host or port differs), every sensitive header is
//!   dropped for the rest of the call, before the request is sent: see [`strip_for_new_origin`].
//! - A 307 or 308 to another origin whose kept body holds a secret value of the run is not
//!   followed at all (a body cannot be stripped the way a header can): see
//!   [`body_secret_crosses`].
//! - No `Referer` is ever added.

use reqwest::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderMap,
    LOCATION, PROXY_AUTHORIZATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};

use crate::redact::{Redact, is_sensitive_name};

/// Whether a response with this status is followed.
pub(crate) fn is_followed(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// The redirect's target: `Location` resolved against `current`. The error message never echoes
/// the header's value.
pub(crate) fn target(
    status: StatusCode,
    headers: &HeaderMap,
    current: &Url,
) -> Result<Url, String> {
    let code = status.as_u16();
    let location = headers
        .get(LOCATION)
        .ok_or_else(|| format!("redirect {code} without a Location header"))?;
    std::str::from_utf8(location.as_bytes())
        .ok()
        .and_then(|location| current.join(location.trim()).ok())
        .ok_or_else(|| format!("redirect {code} with a Location header that is not a valid URL"))
}

/// Turns the request into the one to send after a redirect with this status (method and body;
/// see the module docs).
pub(crate) fn rewrite_method(
    status: StatusCode,
    method: &mut Method,
    body: &mut Option<Vec<u8>>,
    headers: &mut HeaderMap,
) {
    let to_get = match status {
        StatusCode::SEE_OTHER => *method != Method::HEAD,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => *method == Method::POST,
        _ => false,
    };
    if to_get {
        *method = Method::GET;
    }
    if to_get || status == StatusCode::SEE_OTHER {
        *body = None;
        for name in [
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CONTENT_ENCODING,
            TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
    }
}

/// Whether following this redirect would send a body holding a secret value of the run (one
/// `redact` would change) to another origin: a 307 or 308 keeps the body, and unlike a header
/// it cannot be dropped on its own, so the hop must be refused.
pub(crate) fn body_secret_crosses(
    status: StatusCode,
    body: Option<&[u8]>,
    from: &Url,
    to: &Url,
    redact: &dyn Redact,
) -> bool {
    let keeps_body = matches!(
        status,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
    );
    let Some(body) = body.filter(|_| keeps_body && !same_origin(from, to)) else {
        return false;
    };
    let text = String::from_utf8_lossy(body);
    redact.redact(&text) != text
}

/// Whether `a` and `b` are the same origin: scheme, host and port (the default port counts as
/// written out).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// On a hop from `from` to another origin `to`, drops every header that may carry a credential:
///
/// - `Authorization`, `Proxy-Authorization`, `Cookie` (and `Cookie2`, `WWW-Authenticate`, as
///   reqwest does), and every name [`is_sensitive_name`] flags (`X-API-Key`, `X-Auth-Token`,
///   `…secret…`, …);
/// - every header whose value contains a secret value of the run, i.e. that `redact` would change
///   (`X-Signature: ${SIGNING_KEY}` has an innocent name);
/// - `Host`, which names the first origin.
///
/// Same-origin hops keep every header. Headers dropped once stay dropped on later hops, even back
/// to the first origin.
pub(crate) fn strip_for_new_origin(
    headers: &mut HeaderMap,
    from: &Url,
    to: &Url,
    redact: &dyn Redact,
) {
    if same_origin(from, to) {
        return;
    }
    for name in [
        AUTHORIZATION,
        PROXY_AUTHORIZATION,
        COOKIE,
        WWW_AUTHENTICATE,
        HOST,
    ] {
        headers.remove(name);
    }
    headers.remove("cookie2");
    let carries_secret = |name: &str, headers: &HeaderMap| {
        is_sensitive_name(name)
            || headers.get_all(name).iter().any(|value| {
                let text = String::from_utf8_lossy(value.as_bytes());
                redact.redact(&text) != text
            })
    };
    let doomed: Vec<_> = headers
        .keys()
        .filter(|name| carries_secret(name.as_str(), headers))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;
    use crate::redact::NoRedaction;

    fn url(s: &str) -> Url {
        s.parse().expect("valid URL")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    fn job_headers() -> HeaderMap {
        headers(&[
            ("authorization", "Bearer abc"),
            ("proxy-authorization", "Basic abc"),
            ("cookie", "session=abc"),
            ("x-api-key", "k-123456"),
            ("x-auth-token", "t-123456"),
            ("x-client-secret", "s-123456"),
            ("x-signature", "sig-from-a-secret"),
            ("host", "api.example.com"),
            ("accept", "application/json"),
            ("x-request-id", "r-1"),
            ("x-request-id", "r-2"),
        ])
    }

    #[test]
    fn only_the_five_redirect_statuses_are_followed() {
        for code in [301, 302, 303, 307, 308] {
            assert!(is_followed(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 300, 304, 305, 306, 309, 399, 404] {
            assert!(!is_followed(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = url("https://api.example.com/v1");
        assert!(same_origin(&a, &url("https://API.example.com:443/other?q")));
        assert!(!same_origin(&a, &url("http://api.example.com/v1")));
        assert!(!same_origin(&a, &url("https://api.example.com:8443/v1")));
        assert!(!same_origin(&a, &url("https://evil.example.com/v1")));
        assert!(!same_origin(
            &a,
            &url("https://api.example.com.evil.net/v1")
        ));
        assert!(!same_origin(
            &url("http://127.0.0.1:8080/"),
            &url("http://127.0.0.1:8081/")
        ));
    }

    #[test]
    fn a_cross_origin_hop_drops_every_secret_header() {
        let mut map = job_headers();
        let redact = |t: &str| t.replace("sig-from-a-secret", "[REDACTED]");
        strip_for_new_origin(
            &mut map,
            &url("https://api.example.com/a"),
            &url("https://cdn.example.net/b"),
            &redact,
        );
        assert_eq!(names(&map), ["accept", "x-request-id"]);
        assert_eq!(map.get_all("x-request-id").iter().count(), 2);
    }

    #[test]
    fn a_port_or_scheme_change_is_another_origin() {
        for to in ["http://api.example.com/a", "https://api.example.com:8443/a"] {
            let mut map = job_headers();
            strip_for_new_origin(
                &mut map,
                &url("https://api.example.com/a"),
                &url(to),
                &NoRedaction,
            );
            assert_eq!(
                names(&map),
                ["accept", "x-request-id", "x-signature"],
                "{to}"
            );
        }
    }

    #[test]
    fn a_same_origin_hop_keeps_every_header() {
        let mut map = job_headers();
        let redact = |t: &str| t.replace("sig-from-a-secret", "[REDACTED]");
        strip_for_new_origin(
            &mut map,
            &url("https://api.example.com/a"),
            &url("https://api.example.com:443/b?c=d"),
            &redact,
        );
        assert_eq!(map, job_headers());
    }

    #[test]
    fn only_a_kept_body_with_a_secret_bound_for_another_origin_is_refused() {
        let redact = |t: &str| t.replace("s3cret", "[REDACTED]");
        let (a, b) = (
            url("https://api.example.com/a"),
            url("https://evil.example.net/"),
        );
        let secret = Some(&br#"{"token":"s3cret"}"#[..]);
        let plain = Some(&br#"{"token":"public"}"#[..]);
        for status in [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
        ] {
            assert!(body_secret_crosses(status, secret, &a, &b, &redact));
            assert!(!body_secret_crosses(status, plain, &a, &b, &redact));
            assert!(!body_secret_crosses(status, None, &a, &b, &redact));
            assert!(!body_secret_crosses(
                status,
                secret,
                &a,
                &url("https://api.example.com/z"),
                &redact
            ));
        }
        // These drop the body (POST) or keep a method without one: nothing to refuse.
        for status in [StatusCode::SEE_OTHER, StatusCode::FOUND] {
            assert!(!body_secret_crosses(status, secret, &a, &b, &redact));
        }
    }

    #[test]
    fn see_other_becomes_a_get_without_body() {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::GET] {
            let mut m = method.clone();
            let mut body = Some(b"{}".to_vec());
            let mut map = headers(&[("content-type", "application/json"), ("x-api-key", "k")]);
            rewrite_method(StatusCode::SEE_OTHER, &mut m, &mut body, &mut map);
            assert_eq!((m, body), (Method::GET, None), "{method}");
            assert_eq!(names(&map), ["x-api-key"]);
        }
        let mut m = Method::HEAD;
        rewrite_method(
            StatusCode::SEE_OTHER,
            &mut m,
            &mut None,
            &mut HeaderMap::new(),
        );
        assert_eq!(m, Method::HEAD);
    }

    #[test]
    fn moved_and_found_turn_only_post_into_get() {
        for status in [StatusCode::MOVED_PERMANENTLY, StatusCode::FOUND] {
            let mut m = Method::POST;
            let mut body = Some(b"{}".to_vec());
            let mut map = headers(&[("content-type", "application/json")]);
            rewrite_method(status, &mut m, &mut body, &mut map);
            assert_eq!((m, body), (Method::GET, None), "{status}");
            assert!(map.is_empty());

            let mut m = Method::PUT;
            let mut body = Some(b"{}".to_vec());
            let mut map = headers(&[("content-type", "application/json")]);
            rewrite_method(status, &mut m, &mut body, &mut map);
            assert_eq!((m, body), (Method::PUT, Some(b"{}".to_vec())), "{status}");
            assert_eq!(names(&map), ["content-type"]);
        }
    }

    #[test]
    fn temporary_and_permanent_redirects_keep_method_and_body() {
        for status in [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
        ] {
            let mut m = Method::POST;
            let mut body = Some(b"{\"a\":1}".to_vec());
            let mut map = headers(&[("content-type", "application/json")]);
            rewrite_method(status, &mut m, &mut body, &mut map);
            assert_eq!((m, body), (Method::POST, Some(b"{\"a\":1}".to_vec())));
            assert_eq!(names(&map), ["content-type"]);
        }
    }

    #[test]
    fn the_target_is_resolved_against_the_current_url() {
        let current = url("https://api.example.com/v1/jobs?x=1");
        let found = StatusCode::FOUND;
        let cases = [
            ("/v2/jobs", "https://api.example.com/v2/jobs"),
            ("next?y=2", "https://api.example.com/v1/next?y=2"),
            ("//other.example.net/p", "https://other.example.net/p"),
            (
                "http://other.example.net:81/",
                "http://other.example.net:81/",
            ),
        ];
        for (location, expected) in cases {
            let map = headers(&[("location", location)]);
            assert_eq!(
                target(found, &map, &current).unwrap().as_str(),
                expected,
                "{location}"
            );
        }
    }

    #[test]
    fn a_missing_or_invalid_location_is_an_error_that_does_not_echo_it() {
        let current = url("https://api.example.com/");
        let error = target(StatusCode::FOUND, &HeaderMap::new(), &current).unwrap_err();
        assert_eq!(error, "redirect 302 without a Location header");

        let map = headers(&[("location", "http://[zz-secret-value/")]);
        let error = target(StatusCode::TEMPORARY_REDIRECT, &map, &current).unwrap_err();
        assert_eq!(
            error,
            "redirect 307 with a Location header that is not a valid URL"
        );

        let mut map = HeaderMap::new();
        map.insert(LOCATION, HeaderValue::from_bytes(b"/caf\xe9").unwrap());
        assert!(target(StatusCode::FOUND, &map, &current).is_err());
    }
}
