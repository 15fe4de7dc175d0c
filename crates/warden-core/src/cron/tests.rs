//! Tests for cron parsing and DST handling: worked examples, and property tests that
//! compare `next_after` against a minute-by-minute brute force around real transitions.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp, tz::AmbiguousOffset};
use proptest::prelude::*;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn spec(expr: &str, tz: &str) -> CronSpec {
    CronSpec::parse(expr, tz, DstPolicy::default()).unwrap()
}

fn with(expr: &str, tz: &str, gap: GapPolicy, fold: FoldPolicy) -> CronSpec {
    CronSpec::parse(expr, tz, DstPolicy { gap, fold }).unwrap()
}

#[test]
fn five_and_six_fields_and_macros_parse() {
    let s = spec("*/15 * * * *", "UTC");
    assert_eq!(
        s.next_after(ts("2026-01-01T00:07:00Z")),
        Some(ts("2026-01-01T00:15:00Z"))
    );
    let s = spec("30 * * * * *", "UTC");
    assert_eq!(
        s.next_after(ts("2026-01-01T00:00:00Z")),
        Some(ts("2026-01-01T00:00:30Z"))
    );
    let s = spec("@hourly", "UTC");
    assert_eq!(
        s.next_after(ts("2026-01-01T00:00:00Z")),
        Some(ts("2026-01-01T01:00:00Z"))
    );
    let s = spec("0 9 * JAN-MAR MON-FRI", "UTC");
    // 2026-01-03 is a Saturday.
    assert_eq!(
        s.next_after(ts("2026-01-03T00:00:00Z")),
        Some(ts("2026-01-05T09:00:00Z"))
    );
    let s = spec("0 0 L * *", "UTC");
    assert_eq!(
        s.next_after(ts("2026-02-01T00:00:00Z")),
        Some(ts("2026-02-28T00:00:00Z"))
    );
    let s = spec("0 0 * * 5#2", "UTC");
    assert_eq!(
        s.next_after(ts("2026-01-01T00:00:00Z")),
        Some(ts("2026-01-09T00:00:00Z"))
    );
    let s = spec("0 0 15W * *", "UTC");
    // 2026-02-15 is a Sunday: the nearest weekday is Monday the 16th.
    assert_eq!(
        s.next_after(ts("2026-02-01T00:00:00Z")),
        Some(ts("2026-02-16T00:00:00Z"))
    );
}

#[test]
fn day_of_month_and_day_of_week_combine_with_or() {
    // Vixie cron: "on the 13th OR on Fridays".
    let s = spec("0 0 13 * FRI", "UTC");
    let fires = s.upcoming(ts("2026-02-01T00:00:00Z"), 4);
    let days: Vec<_> = fires
        .iter()
        .map(|t| t.to_zoned(TimeZone::UTC).date().to_string())
        .collect();
    assert_eq!(
        days,
        ["2026-02-06", "2026-02-13", "2026-02-20", "2026-02-27"]
    );
    let fires = s.upcoming(ts("2026-03-10T00:00:00Z"), 2);
    let days: Vec<_> = fires
        .iter()
        .map(|t| t.to_zoned(TimeZone::UTC).date().to_string())
        .collect();
    assert_eq!(days, ["2026-03-13", "2026-03-20"]);
}

#[test]
fn bad_expressions_and_zones_are_refused_with_the_field_named() {
    let err = CronSpec::parse("0 0 0 31 2 *", "UTC", DstPolicy::default()).unwrap_err();
    assert_eq!(err.field, "cron");
    assert!(err.problem.contains("never fire"), "{err}");
    let err = CronSpec::parse("* * *", "UTC", DstPolicy::default()).unwrap_err();
    assert_eq!(err.field, "cron");
    assert!(err.problem.contains("3 fields"), "{err}");
    let err = CronSpec::parse("0 0 0 1 1 * 2030", "UTC", DstPolicy::default()).unwrap_err();
    assert_eq!(err.field, "cron");
    let err = CronSpec::parse("61 * * * *", "UTC", DstPolicy::default()).unwrap_err();
    assert_eq!(err.field, "cron");
    let err = CronSpec::parse("* * * * *", "Mars/Olympus", DstPolicy::default()).unwrap_err();
    assert_eq!(err.field, "timezone");
    assert!(err.to_string().contains("Europe/Paris"), "{err}");
}

#[test]
fn spring_forward_gap_shifts_to_the_transition_or_is_skipped() {
    // New York 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let shift = spec("30 2 * * *", "America/New_York");
    assert_eq!(
        shift.next_after(ts("2026-03-08T05:00:00Z")),
        Some(ts("2026-03-08T07:00:00Z"))
    );
    assert_eq!(
        shift.next_after(ts("2026-03-08T07:00:00Z")),
        Some(ts("2026-03-09T06:30:00Z"))
    );
    let skip = with(
        "30 2 * * *",
        "America/New_York",
        GapPolicy::Skip,
        FoldPolicy::First,
    );
    assert_eq!(
        skip.next_after(ts("2026-03-08T05:00:00Z")),
        Some(ts("2026-03-09T06:30:00Z"))
    );
    // Several civil times in one gap fire once.
    let every_quarter = spec("*/15 2 * * *", "America/New_York");
    let fires =
        every_quarter.fires_between(ts("2026-03-08T00:00:00Z"), ts("2026-03-08T12:00:00Z"), 100);
    assert_eq!(fires, [ts("2026-03-08T07:00:00Z")]);
}

#[test]
fn fall_back_fold_fires_first_last_or_both() {
    // New York 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
    let window = (ts("2026-11-01T00:00:00Z"), ts("2026-11-01T12:00:00Z"));
    let fires = |fold| {
        with("30 1 * * *", "America/New_York", GapPolicy::Shift, fold)
            .fires_between(window.0, window.1, 10)
    };
    assert_eq!(fires(FoldPolicy::First), [ts("2026-11-01T05:30:00Z")]);
    assert_eq!(fires(FoldPolicy::Last), [ts("2026-11-01T06:30:00Z")]);
    assert_eq!(
        fires(FoldPolicy::Both),
        [ts("2026-11-01T05:30:00Z"), ts("2026-11-01T06:30:00Z")]
    );
    // Starting inside the first pass, Last/Both still find the second pass.
    let last = with(
        "30 1 * * *",
        "America/New_York",
        GapPolicy::Shift,
        FoldPolicy::Last,
    );
    assert_eq!(
        last.next_after(ts("2026-11-01T05:50:00Z")),
        Some(ts("2026-11-01T06:30:00Z"))
    );
}

#[test]
fn midnight_transitions_are_handled() {
    // Havana springs forward at midnight: 2026-03-08 00:00 CST becomes 01:00 CDT (05:00Z).
    let daily = spec("0 0 * * *", "America/Havana");
    assert_eq!(
        daily.next_after(ts("2026-03-07T12:00:00Z")),
        Some(ts("2026-03-08T05:00:00Z"))
    );
    // … and falls back from 01:00 CDT to 00:00 CST on 2026-11-01, repeating midnight hour.
    let fires = daily.fires_between(ts("2026-10-31T12:00:00Z"), ts("2026-11-01T12:00:00Z"), 10);
    assert_eq!(fires, [ts("2026-11-01T04:00:00Z")]);
}

// ---------------------------------------------------------------------------------------
// Property tests: brute force over every minute around a real transition.

const ZONES: &[&str] = &[
    "America/New_York",
    "Europe/Paris",
    "Australia/Lord_Howe", // 30-minute DST shift
    "America/Havana",      // transitions at midnight
    "America/Santiago",    // transitions at midnight (24:00)
    "Asia/Beirut",         // transitions at midnight
    "America/Sao_Paulo",   // midnight transitions until 2019
];

const PATTERNS: &[&str] = &[
    "* * * * *",
    "*/7 * * * *",
    "0 * * * *",
    "30 * * * *",
    "15 0 * * *",
    "0,30 0-3 * * *",
    "45 1 * * *",
    "0 2 * * *",
    "10 23 * * *",
];

fn reference(
    expr: &str,
    tz: &TimeZone,
    dst: DstPolicy,
    from: Timestamp,
    to: Timestamp,
) -> BTreeSet<Timestamp> {
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .unwrap();
    let minute = SignedDuration::from_mins(1);
    let mut out = BTreeSet::new();
    // Walk whole minutes: start at `from` rounded down to its minute.
    let mut s = Timestamp::from_second(from.as_second().div_euclid(60) * 60).unwrap();
    while s < to {
        s = s.checked_add(minute).unwrap();
        if s <= from || s > to {
            continue;
        }
        let civil = tz.to_datetime(s);
        if !cron.is_time_matching(&civil).unwrap() {
            continue;
        }
        let amb = tz.to_ambiguous_timestamp(civil);
        let keep = match (amb.offset(), dst.fold) {
            (AmbiguousOffset::Fold { .. }, FoldPolicy::First) => s == amb.earlier().unwrap(),
            (AmbiguousOffset::Fold { .. }, FoldPolicy::Last) => s == amb.later().unwrap(),
            _ => true,
        };
        if keep {
            out.insert(s);
        }
    }
    // Civil times inside a spring-forward gap never appear above; they fire at the transition.
    if dst.gap == GapPolicy::Shift {
        for tr in tz.following(from).take_while(|tr| tr.timestamp() <= to) {
            let before = tz.to_offset(
                tr.timestamp()
                    .checked_sub(SignedDuration::from_secs(1))
                    .unwrap(),
            );
            let gap = tr.offset().duration_since(before);
            let mut civil = tr.timestamp().to_zoned(TimeZone::fixed(before)).datetime();
            let end = civil + gap;
            while civil < end {
                if cron.is_time_matching(&civil).unwrap() {
                    out.insert(tr.timestamp());
                    break;
                }
                civil += minute;
            }
        }
    }
    out
}

fn policy() -> impl Strategy<Value = DstPolicy> {
    (
        prop_oneof![Just(GapPolicy::Shift), Just(GapPolicy::Skip)],
        prop_oneof![
            Just(FoldPolicy::First),
            Just(FoldPolicy::Last),
            Just(FoldPolicy::Both)
        ],
    )
        .prop_map(|(gap, fold)| DstPolicy { gap, fold })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fires_match_brute_force_around_dst_transitions(
        zone in proptest::sample::select(ZONES),
        expr in proptest::sample::select(PATTERNS),
        dst in policy(),
        // A point between 2005 and 2035 from which to find the next transition.
        seed_secs in 1_104_537_600i64..2_051_222_400i64,
        lead_mins in 0i64..240,
        span_mins in 60i64..600,
    ) {
        let spec = CronSpec::parse(expr, zone, dst).unwrap();
        let tz = spec.time_zone().clone();
        let seed = Timestamp::from_second(seed_secs).unwrap();
        let Some(tr) = tz.following(seed).next() else { return Ok(()) };
        let from = tr.timestamp().checked_sub(SignedDuration::from_mins(lead_mins)).unwrap();
        let to = from.checked_add(SignedDuration::from_mins(span_mins)).unwrap();
        let expected = reference(expr, &tz, dst, from, to);
        let actual: BTreeSet<_> = spec.fires_between(from, to, 10_000).into_iter().collect();
        prop_assert_eq!(actual, expected, "{} in {} with {:?} from {}", expr, zone, dst, from);
    }

    #[test]
    fn next_after_is_strictly_increasing(
        zone in proptest::sample::select(ZONES),
        expr in proptest::sample::select(PATTERNS),
        dst in policy(),
        start in 1_104_537_600i64..2_051_222_400i64,
    ) {
        let spec = CronSpec::parse(expr, zone, dst).unwrap();
        let mut t = Timestamp::from_second(start).unwrap();
        for _ in 0..50 {
            let next = spec.next_after(t).unwrap();
            prop_assert!(next > t);
            t = next;
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_input(expr in ".{0,64}", zone in "[A-Za-z/_]{0,20}") {
        let _ = CronSpec::parse(&expr, &zone, DstPolicy::default());
    }
}
