//! Reading a response body with a hard cap, keeping only the start of it.
//!
//! The reader pulls chunks until the body ends or `max_total` bytes have arrived, then stops and
//! drops the response (closing the connection), so a hostile server cannot make us read or
//! buffer without bound. Only the first `keep` bytes are held in memory; the rest is counted and
//! discarded.

use crate::redact::{Redact, truncate_at_char_boundary};

/// What was read of a body.
#[derive(Debug)]
pub(crate) struct BodyRead {
    /// The first bytes of the body, at most `keep`.
    pub(crate) head: Vec<u8>,
    /// Bytes received in total.
    pub(crate) bytes: u64,
    /// The read stopped at the cap before the end of the body.
    pub(crate) truncated: bool,
    /// The read failed part-way.
    pub(crate) error: Option<reqwest::Error>,
}

/// Reads at most about `max_total` bytes of `response` (a read may overshoot by one chunk, which
/// is discarded), keeping the first `keep`.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max_total: usize,
    keep: usize,
) -> BodyRead {
    let mut read = BodyRead {
        head: Vec::with_capacity(keep.min(64 * 1024)),
        bytes: 0,
        truncated: false,
        error: None,
    };
    let max_total = u64::try_from(max_total).unwrap_or(u64::MAX);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = keep.saturating_sub(read.head.len());
                read.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
                read.bytes = read.bytes.saturating_add(chunk.len() as u64);
                if read.bytes > max_total {
                    read.truncated = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(err) => {
                read.error = Some(err);
                break;
            }
        }
    }
    // `response` is dropped here: with the body unfinished, the connection is closed rather than
    // returned to the pool.
    read
}

/// Renders the excerpt: decode (lossy), redact, then cut to `max` bytes.
///
/// `head` should hold more than `max` bytes (twice as many is used) so that a secret straddling
/// the cut is still whole when the redactor sees it; otherwise its first half could survive.
pub(crate) fn excerpt(head: &[u8], max: usize, redact: &dyn Redact) -> String {
    let text = String::from_utf8_lossy(head);
    truncate_at_char_boundary(redact.redact(&text), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_across_the_cut_is_redacted_not_half_kept() {
        let mut body = "x".repeat(10);
        body.push_str("s3cr3t-token");
        let redact = |t: &str| t.replace("s3cr3t-token", "[REDACTED]");
        let got = excerpt(body.as_bytes(), 14, &redact);
        assert_eq!(got, "xxxxxxxxxx[RED");
        assert!(!got.contains("s3cr"));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_the_excerpt_stays_within_the_limit() {
        let head = [b'a', 0xff, 0xfe, b'b', 0xe2, 0x82];
        let got = excerpt(&head, 4, &crate::redact::NoRedaction);
        assert!(got.len() <= 4, "{got:?}");
        assert!(got.starts_with("a\u{fffd}"), "{got:?}");
    }
}
