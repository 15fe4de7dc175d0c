//! The egress check of one redirect hop: the hop limit, then the hop's URL against the policy.
//!
//! The HTTP executor follows redirects itself (reqwest's own following is off, see
//! [`crate::http`]) and calls [`check_redirect_hop`] before every hop. A hop to a host name is
//! checked again by the [`super::EgressResolver`] when it connects.

use reqwest::Url;

use super::{EgressError, EgressPolicy};

/// Redirects followed before giving up, unless configured otherwise.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// The response redirected more than the allowed number of times.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many redirects: more than {max} hops")]
pub struct TooManyRedirects {
    /// The hop limit that was exceeded.
    pub max: usize,
}

/// Why a redirect hop may not be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HopRefused {
    /// The hop limit is reached.
    #[error(transparent)]
    TooMany(#[from] TooManyRedirects),
    /// The hop's URL fails [`EgressPolicy::check_url`].
    #[error(transparent)]
    Egress(#[from] EgressError),
}

/// Checks the next redirect hop, to `next`, when `followed` hops have already been followed:
/// refused once `followed` reaches `max`, else when `next` fails [`EgressPolicy::check_url`]
/// (scheme, `https_only` — so an https → http downgrade is refused under it —, literal IP).
///
/// # Errors
///
/// [`HopRefused::TooMany`] or [`HopRefused::Egress`]; not logged here, the caller records the
/// (redacted) refusal once.
pub fn check_redirect_hop(
    policy: &EgressPolicy,
    next: &Url,
    followed: usize,
    max: usize,
) -> Result<(), HopRefused> {
    if followed >= max {
        return Err(TooManyRedirects { max }.into());
    }
    policy.check_url(next)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().expect("valid URL")
    }

    #[test]
    fn the_hop_limit_counts_hops_already_followed() {
        let policy = EgressPolicy::new();
        let next = url("https://example.com/");
        assert_eq!(check_redirect_hop(&policy, &next, 4, 5), Ok(()));
        assert_eq!(
            check_redirect_hop(&policy, &next, 5, 5),
            Err(HopRefused::TooMany(TooManyRedirects { max: 5 }))
        );
        assert_eq!(
            check_redirect_hop(&policy, &next, 0, 0),
            Err(HopRefused::TooMany(TooManyRedirects { max: 0 }))
        );
    }

    #[test]
    fn a_hop_gets_the_url_check() {
        let policy = EgressPolicy {
            allow: Vec::new(),
            https_only: true,
        };
        let refused = check_redirect_hop(&policy, &url("http://example.com/"), 0, 5);
        assert!(
            matches!(
                refused,
                Err(HopRefused::Egress(EgressError::InsecureScheme { .. }))
            ),
            "{refused:?}"
        );
        let refused = check_redirect_hop(&policy, &url("https://169.254.169.254/"), 0, 5);
        assert!(
            matches!(
                refused,
                Err(HopRefused::Egress(EgressError::BlockedAddress { .. }))
            ),
            "{refused:?}"
        );
        let refused = check_redirect_hop(&policy, &url("file:///etc/passwd"), 0, 5);
        assert!(matches!(refused, Err(HopRefused::Egress(_))), "{refused:?}");
    }
}
