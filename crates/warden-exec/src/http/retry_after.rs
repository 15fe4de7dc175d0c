//! Parsing `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), capped.

use std::time::Duration;

use jiff::Timestamp;
use jiff::fmt::{rfc2822, strtime};

/// The delay a `Retry-After` value asks for, measured from `now` and capped at `cap`.
///
/// Accepts delay-seconds (`120`) and the three HTTP-date forms recipients must accept:
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and
/// asctime (`Sun Nov  6 08:49:37 1994`). A date in the past is a zero delay. Anything else is
/// `None`, so the caller falls back to its own backoff.
pub fn parse_retry_after(value: &str, now: Timestamp, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturate absurdly long digit strings rather than rejecting them.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = parse_http_date(value)?;
        let span = at.duration_since(now);
        // A negative span (a date in the past) means "now".
        Duration::try_from(span).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(cap))
}

fn parse_http_date(value: &str) -> Option<Timestamp> {
    static IMF: rfc2822::DateTimeParser = rfc2822::DateTimeParser::new();
    if let Ok(ts) = IMF.parse_timestamp(value) {
        return Some(ts);
    }
    // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit years: 69-99 are 19xx).
    if let Some(rfc850) = value.strip_suffix(" GMT")
        && let Some(ts) = parse_utc("%A, %d-%b-%y %H:%M:%S", rfc850)
    {
        return Some(ts);
    }
    // asctime pads the day with a space; collapse runs of spaces so `%d` sees one field.
    let asctime = value.split_whitespace().collect::<Vec<_>>().join(" ");
    parse_utc("%a %b %d %H:%M:%S %Y", &asctime)
}

/// Parses a zone-less date-time with `format` and reads it as UTC.
fn parse_utc(format: &str, value: &str) -> Option<Timestamp> {
    let dt = strtime::parse(format, value).ok()?.to_datetime().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> Timestamp {
        "1994-11-06T08:49:00Z".parse().unwrap()
    }

    #[test]
    fn delay_seconds_are_used_as_given_and_capped() {
        assert_eq!(
            parse_retry_after("7", now(), HOUR),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(" 0 ", now(), HOUR), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("999999", now(), HOUR), Some(HOUR));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now(), HOUR),
            Some(HOUR)
        );
    }

    #[test]
    fn all_three_http_date_forms_are_measured_from_now() {
        let in_37s = Some(Duration::from_secs(37));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now(), HOUR),
            in_37s
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now(), HOUR),
            in_37s
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", now(), HOUR),
            in_37s
        );
    }

    #[test]
    fn past_dates_mean_now_and_far_dates_are_capped() {
        let past = parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now(), HOUR);
        assert_eq!(past, Some(Duration::ZERO));
        let far = parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now(), HOUR);
        assert_eq!(far, Some(HOUR));
    }

    #[test]
    fn garbage_is_ignored() {
        for bad in ["", "-5", "1.5", "soon", "Sun, 32 Nov 1994 08:49:37 GMT"] {
            assert_eq!(parse_retry_after(bad, now(), HOUR), None, "{bad}");
        }
    }
}
