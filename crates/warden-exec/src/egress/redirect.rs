//! The redirect policy: a hop limit, and every hop's URL checked against the egress policy.

use std::sync::Arc;

use reqwest::redirect::{Attempt, Policy};

use super::EgressPolicy;

/// Redirects followed before giving up, unless configured otherwise.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// The response redirected more than the allowed number of times.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many redirects: more than {max} hops")]
pub struct TooManyRedirects {
    /// The hop limit that was exceeded.
    pub max: usize,
}

/// A reqwest redirect policy that follows at most `max` hops and refuses a hop whose URL fails
/// [`EgressPolicy::check_url`] (scheme, `https_only`, literal IP). A hop to a host name is checked
/// by the resolver when it connects.
///
/// The error of a refused hop is the [`super::EgressError`] itself (reachable through the reqwest
/// error's `source()` chain), or [`TooManyRedirects`].
pub fn redirect_policy(policy: Arc<EgressPolicy>, max: usize) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        // `previous` holds the original URL plus every hop already followed.
        if attempt.previous().len() > max {
            return attempt.error(TooManyRedirects { max });
        }
        // Not logged here: the caller records the (redacted) refusal once, in the run record.
        match policy.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}
