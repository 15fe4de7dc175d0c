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

fn fire_days(expr: &str, after: &str, n: usize) -> Vec<String> {
    spec(expr, "UTC")
        .upcoming(ts(after), n)
        .iter()
        .map(|t| t.to_zoned(TimeZone::UTC).date().to_string())
        .collect()
}

#[test]
fn a_starred_day_field_is_anded_with_the_other_as_in_vixie_cron() {
    // Odd days (`*/2` starts with `*`) AND Mondays: 2026-06-01, 06-15, 06-29 are odd
    // Mondays; 06-08 and 06-22 are even Mondays, 06-03 an odd Wednesday.
    assert_eq!(
        fire_days("0 0 */2 * MON", "2026-05-31T00:00:00Z", 4),
        ["2026-06-01", "2026-06-15", "2026-06-29", "2026-07-13"]
    );
    // The same with the star on the day-of-week side, and with `?`.
    assert_eq!(
        fire_days("0 0 1-7 * */7", "2026-05-31T00:00:00Z", 3),
        ["2026-06-07", "2026-07-05", "2026-08-02"]
    );
    assert_eq!(
        fire_days("0 0 0 */2 * MON", "2026-05-31T00:00:00Z", 2),
        ["2026-06-01", "2026-06-15"]
    );
    // A bare star on either side leaves the other field alone.
    assert_eq!(
        fire_days("0 0 13 * ?", "2026-05-31T00:00:00Z", 2),
        ["2026-06-13", "2026-07-13"]
    );
    assert_eq!(
        fire_days("0 0 * * FRI", "2026-05-31T00:00:00Z", 2),
        ["2026-06-05", "2026-06-12"]
    );
}

#[test]
fn two_restricted_day_fields_are_ored_as_in_vixie_cron() {
    // The 1st, the 15th and every Monday of June 2026 (Mondays: 1, 8, 15, 22, 29).
    assert_eq!(
        fire_days("0 0 1,15 * MON", "2026-05-31T00:00:00Z", 6),
        [
            "2026-06-01",
            "2026-06-08",
            "2026-06-15",
            "2026-06-22",
            "2026-06-29",
            "2026-07-01"
        ]
    );
    // A stepped range that does not start with `*` is restricted: still OR.
    assert_eq!(
        fire_days("0 0 1-31/10 * SUN", "2026-05-31T00:00:00Z", 4),
        ["2026-06-01", "2026-06-07", "2026-06-11", "2026-06-14"]
    );
}

#[test]
fn an_expression_whose_every_match_falls_in_a_skipped_gap_is_refused() {
    let skip = DstPolicy {
        gap: GapPolicy::Skip,
        fold: FoldPolicy::First,
    };
    // 02:30 on the last Sunday of March: the clock jumps from 02:00 to 03:00 that night.
    for expr in [
        "30 2 * 3 0L",
        "0 30 2 * 3 0L",
        "*/5 2 * 3 0L",
        "0 0 2 * 3 0L",
    ] {
        let err = CronSpec::parse(expr, "Europe/Paris", skip).unwrap_err();
        assert_eq!(err.field, "cron", "{expr}");
        assert!(
            err.problem.contains("never fire") && err.problem.contains("gap"),
            "{expr}: {err}"
        );
        assert!(err.expected.contains("shift"), "{err}");
        // Shifted, it fires at the end of the gap; elsewhere 02:30 exists.
        assert!(CronSpec::parse(expr, "Europe/Paris", DstPolicy::default()).is_ok());
        assert!(CronSpec::parse(expr, "UTC", skip).is_ok(), "{expr}");
    }
    // Some matches in the gap, others not: accepted, and it fires outside the gap.
    let spec = CronSpec::parse("30 2 * 3 *", "Europe/Paris", skip).unwrap();
    assert!(spec.next_after(ts("2026-01-01T00:00:00Z")).is_some());
    let spec = CronSpec::parse("30 1-2 * 3 0L", "Europe/Paris", skip).unwrap();
    assert_eq!(
        spec.next_after(ts("2026-03-01T00:00:00Z")),
        Some(ts("2026-03-29T00:30:00Z"))
    );
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

/// The values a day field lists (no `L`, `W`, `#`): `*`, `?`, `a`, `a-b`, with an
/// optional `/step`, comma-separated. Day-of-week 7 is Sunday (0).
fn day_field_values(field: &str, min: u32, max: u32) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().unwrap()),
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" | "?" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                // `a/step` runs from a to the end of the field.
                None if part.contains('/') => (r.parse().unwrap(), max),
                None => (r.parse().unwrap(), r.parse().unwrap()),
            },
        };
        out.extend(
            (lo..=hi)
                .step_by(step as usize)
                .map(|v| if max == 7 { v % 7 } else { v }),
        );
    }
    out
}

fn day_field(min: u32, max: u32) -> impl Strategy<Value = String> {
    let span = max - min;
    let element = prop_oneof![
        Just("*".to_owned()),
        Just("?".to_owned()),
        (2..=span).prop_map(|k| format!("*/{k}")),
        (min..=max).prop_map(|a| a.to_string()),
        (min..=max, 0..=span).prop_map(move |(a, len)| format!("{a}-{}", (a + len).min(max))),
        (min..=max, 0..=span, 2..=span)
            .prop_map(move |(a, len, k)| format!("{a}-{}/{k}", (a + len).min(max))),
    ];
    proptest::collection::vec(element, 1..=3).prop_map(|parts| {
        // A list may not mix in a bare `*`/`?`: croner accepts only a lone one.
        if parts.iter().any(|p| p == "*" || p == "?") {
            parts[0].clone()
        } else {
            parts.join(",")
        }
    })
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
    fn day_fields_follow_the_vixie_rule(
        dom in day_field(1, 31),
        dow in day_field(0, 7),
        start_day in 0i64..20_000,
    ) {
        let expr = format!("0 0 {dom} * {dow}");
        let days = day_field_values(&dom, 1, 31);
        let weekdays = day_field_values(&dow, 0, 7);
        let starred = |f: &str| f.starts_with('*') || f.starts_with('?');
        let anded = starred(&dom) || starred(&dow);
        let first = jiff::civil::date(1990, 1, 1) + jiff::Span::new().days(start_day);
        let mut expected = Vec::new();
        for i in 0..400 {
            let d = first + jiff::Span::new().days(i);
            let by_dom = days.contains(&u32::from(d.day().unsigned_abs()));
            let by_dow = weekdays.contains(&u32::from(d.weekday().to_sunday_zero_offset().unsigned_abs()));
            if (anded && by_dom && by_dow) || (!anded && (by_dom || by_dow)) {
                expected.push(d.to_zoned(TimeZone::UTC).unwrap().timestamp());
            }
        }
        let Ok(spec) = CronSpec::parse(&expr, "UTC", DstPolicy::default()) else {
            // Refused only when no day can ever match (e.g. 31 AND a weekday never
            // falls together within croner's probe): then nothing matches here either.
            prop_assert!(expected.is_empty(), "{expr} refused but matches {expected:?}");
            return Ok(());
        };
        let from = first.to_zoned(TimeZone::UTC).unwrap().timestamp() - SignedDuration::from_secs(1);
        let to = (first + jiff::Span::new().days(400)).to_zoned(TimeZone::UTC).unwrap().timestamp()
            - SignedDuration::from_secs(1);
        prop_assert_eq!(spec.fires_between(from, to, 1000), expected, "{}", expr);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_input(expr in ".{0,64}", zone in "[A-Za-z/_]{0,20}") {
        let _ = CronSpec::parse(&expr, &zone, DstPolicy::default());
    }
}

#[test]
fn a_parse_remembered_gives_what_parsing_gives_and_a_refusal_is_never_remembered() {
    let expr = "0 30 2 * * *";
    let skip = DstPolicy {
        gap: GapPolicy::Skip,
        fold: FoldPolicy::First,
    };
    for _ in 0..2 {
        let remembered = CronSpec::parse(expr, "Europe/Paris", skip).unwrap();
        let fresh = CronSpec::parse_uncached(expr, "Europe/Paris", skip).unwrap();
        assert_eq!(remembered, fresh);
        let after = ts("2030-03-30T12:00:00Z");
        assert_eq!(remembered.upcoming(after, 5), fresh.upcoming(after, 5));
    }
    // The same expression in another zone or under another policy is its own entry: in
    // Paris, 02:30 on the last Sunday of March does not exist and `skip` drops it.
    let shift = CronSpec::parse(expr, "Europe/Paris", DstPolicy::default()).unwrap();
    let gap_day = ts("2030-03-30T12:00:00Z");
    assert_ne!(
        shift.upcoming(gap_day, 1),
        CronSpec::parse(expr, "Europe/Paris", skip)
            .unwrap()
            .upcoming(gap_day, 1)
    );
    assert_ne!(
        CronSpec::parse(expr, "UTC", skip)
            .unwrap()
            .upcoming(gap_day, 1),
        CronSpec::parse(expr, "Europe/Paris", skip)
            .unwrap()
            .upcoming(gap_day, 1)
    );
    for _ in 0..2 {
        assert!(CronSpec::parse("0 0 0 31 2 *", "UTC", skip).is_err());
        assert!(CronSpec::parse("* * * * *", "Mars/Olympus", skip).is_err());
    }
}
