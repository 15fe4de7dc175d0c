//! Cron specifications: a 5- or 6-field expression, an IANA time zone and a DST policy,
//! and the exact list of instants at which it fires.
//!
//! # Model
//! Croner parses the expression and walks *wall-clock* (civil) times that match it; jiff
//! maps each civil time to instants in the schedule's zone. Keeping the two steps apart
//! makes the daylight-saving rules ours, explicit and tested:
//!
//! - **Fields.** `[second] minute hour day-of-month month day-of-week`; ranges, steps,
//!   lists, names (`JAN`, `MON`), `L`, `W`, `#`, `?`, and `@yearly`, `@monthly`,
//!   `@weekly`, `@daily`, `@hourly`.
//! - **Day-of-month and day-of-week** combine as in Vixie cron: when both fields are
//!   restricted, a day matches if *either* matches (`0 0 1,15 * MON`: the 1st, the 15th
//!   and every Monday). When either field starts with `*` (or `?`), the two are ANDed,
//!   so a starred field restricts nothing of its own beyond its step: `0 0 */2 * MON`
//!   fires on Mondays that fall on an odd day, not on every odd day and every Monday.
//! - **Gap** (spring forward: the wall clock skips e.g. 02:00–03:00). A civil time inside
//!   the gap fires once at the first valid instant after it (the transition itself,
//!   03:00 local) with [`GapPolicy::Shift`], the default; it does not fire with
//!   [`GapPolicy::Skip`]. Several civil times in one gap collapse into that one instant.
//! - **Fold** (fall back: e.g. 01:00–02:00 happens twice). A civil time in the repeated
//!   range fires at its first occurrence with [`FoldPolicy::First`], the default; at the
//!   second with [`FoldPolicy::Last`]; at both with [`FoldPolicy::Both`].
//!
//! # Invariants
//! - [`CronSpec::next_after`] returns the smallest fire instant strictly after its input,
//!   so iterating it never repeats or skips an occurrence.
//! - An expression that can never fire (`0 0 0 31 2 *`) is refused by [`CronSpec::parse`], and
//!   so is one whose every match falls in a daylight-saving gap under [`GapPolicy::Skip`]
//!   (`30 2 * 3 0L` in `Europe/Paris`: 02:30 on the last Sunday of March never exists there).

use std::{
    collections::HashMap,
    fmt,
    sync::{LazyLock, Mutex},
};

use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use jiff::{
    SignedDuration, Timestamp,
    civil::DateTime,
    tz::{AmbiguousOffset, TimeZone},
};
use serde::{Deserialize, Serialize};

use crate::{ParseError, error::excerpt};

crate::vocabulary! {
    /// What to do with a civil fire time that a spring-forward skips.
    #[derive(Default)]
    pub enum GapPolicy: "dstGap", "a gap policy" {
        /// Fire once at the first valid instant after the gap (default).
        #[default]
        Shift = "shift",
        /// Do not fire.
        Skip = "skip",
    }
}

crate::vocabulary! {
    /// What to do with a civil fire time that a fall-back repeats.
    #[derive(Default)]
    pub enum FoldPolicy: "dstFold", "a fold policy" {
        /// Fire at the first occurrence only (default).
        #[default]
        First = "first",
        /// Fire at the second occurrence only.
        Last = "last",
        /// Fire at both.
        Both = "both",
    }
}

/// A schedule's daylight-saving policy. The default is `shift` + `first`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DstPolicy {
    pub gap: GapPolicy,
    pub fold: FoldPolicy,
}

/// A parsed cron expression bound to a time zone and a DST policy.
#[derive(Clone)]
pub struct CronSpec {
    expr: String,
    cron: Cron,
    tz_name: String,
    tz: TimeZone,
    dst: DstPolicy,
}

impl fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSpec")
            .field("expr", &self.expr)
            .field("tz", &self.tz_name)
            .field("dst", &self.dst)
            .finish()
    }
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz_name == other.tz_name && self.dst == other.dst
    }
}

const CRON_EXPECTED: &str = "5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, \
     e.g. \"*/5 * * * *\" or \"0 30 9 * * MON-FRI\", or @hourly, @daily, @weekly, @monthly, @yearly";

/// Most specifications kept by [`CronSpec::parse`]'s memo; when full it starts again empty
/// (a bound on memory, not a policy: past it, parsing costs what it did without the memo).
const PARSED_KEPT: usize = 4096;

/// What [`CronSpec::parse`] gave for (expression, zone, policy): every schedule row the
/// cron enqueuer reads is parsed again, and ten thousand schedules due each second spent
/// an eighth of the process's CPU in croner's parser, though they share a few expressions.
type Parsed = HashMap<(String, String, DstPolicy), CronSpec>;
static PARSED: LazyLock<Mutex<Parsed>> = LazyLock::new(Mutex::default);

impl CronSpec {
    /// Parses `expr` for the IANA zone `tz` (e.g. `Europe/Paris`, `UTC`).
    ///
    /// Errors name the field (`cron` or `timezone`), and an expression that can never
    /// fire is refused. A specification parsed before is cloned from a memo of the last
    /// few thousand (the result depends only on the three inputs).
    pub fn parse(expr: &str, tz: &str, dst: DstPolicy) -> Result<Self, ParseError> {
        let key = (expr.trim().to_owned(), tz.to_owned(), dst);
        let memo = || PARSED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(spec) = memo().get(&key) {
            return Ok(spec.clone());
        }
        let spec = Self::parse_uncached(expr, tz, dst)?;
        let mut parsed = memo();
        if parsed.len() >= PARSED_KEPT {
            parsed.clear();
        }
        parsed.insert(key, spec.clone());
        Ok(spec)
    }

    fn parse_uncached(expr: &str, tz: &str, dst: DstPolicy) -> Result<Self, ParseError> {
        let trimmed = expr.trim();
        let fields = trimmed.split_whitespace().count();
        if !trimmed.starts_with('@') && !(5..=6).contains(&fields) {
            return Err(ParseError::new(
                "cron",
                format!("{} has {fields} fields", excerpt(expr)),
                CRON_EXPECTED,
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .dom_and_dow(days_are_anded(trimmed))
            .build();
        let cron = parser.parse(trimmed).map_err(|e| {
            ParseError::new(
                "cron",
                format!("{} is not valid: {e}", excerpt(expr)),
                CRON_EXPECTED,
            )
        })?;
        let zone = TimeZone::get(tz).map_err(|_| {
            ParseError::new(
                "timezone",
                format!("{} is not a known IANA time zone", excerpt(tz)),
                "an IANA zone name such as UTC, Europe/Paris or America/New_York",
            )
        })?;
        let spec = Self {
            expr: trimmed.to_owned(),
            cron,
            tz_name: tz.to_owned(),
            tz: zone,
            dst,
        };
        // A pattern that matches no civil time at all (31 February) can never fire.
        let probe = DateTime::constant(2000, 1, 1, 0, 0, 0, 0);
        if spec.cron.find_next_occurrence(&probe, true).is_err() {
            return Err(ParseError::new(
                "cron",
                format!("{} can never fire (no date matches it)", excerpt(expr)),
                "an expression that matches at least one date, e.g. check day-of-month against the month",
            ));
        }
        if spec.dst.gap == GapPolicy::Skip && !spec.fires_outside_gaps() {
            return Err(ParseError::new(
                "cron",
                format!(
                    "{} can never fire in {}: every time it matches falls in a daylight-saving \
                     gap (the clock skips it), and the gap policy is skip",
                    excerpt(expr),
                    excerpt(tz)
                ),
                "a time outside the gap, or the gap policy shift (it fires at the end of the gap)",
            ));
        }
        Ok(spec)
    }

    /// Whether some civil time the expression matches exists in the zone (is not inside a
    /// spring-forward gap), from 2000 to 2500.
    ///
    /// Matches inside a gap are jumped over a whole gap at a time, so this costs about one step
    /// per gap. The window is conclusive: weekdays repeat every 400 years, and the zone's rules
    /// are one repeating yearly rule after the last transition its database lists.
    fn fires_outside_gaps(&self) -> bool {
        let horizon = DateTime::constant(2500, 1, 1, 0, 0, 0, 0);
        let mut civil = DateTime::constant(2000, 1, 1, 0, 0, 0, 0);
        let mut inclusive = true;
        while civil < horizon {
            let Ok(next) = self.cron.find_next_occurrence(&civil, inclusive) else {
                return false;
            };
            let AmbiguousOffset::Gap { before, .. } = self.tz.to_ambiguous_timestamp(next).offset()
            else {
                return true;
            };
            // The first civil time after the gap: the transition read in the new offset.
            let gap_end = before
                .to_timestamp(next)
                .ok()
                .and_then(|late| late.checked_add(SignedDuration::from_secs(1)).ok())
                .and_then(|probe| self.tz.preceding(probe).next())
                .map(|transition| self.tz.to_datetime(transition.timestamp()));
            (civil, inclusive) = match gap_end {
                Some(end) if end > next => (end, true),
                _ => (next, false),
            };
        }
        false
    }

    /// The expression as written (trimmed).
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The IANA zone name.
    pub fn tz_name(&self) -> &str {
        &self.tz_name
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn dst(&self) -> DstPolicy {
        self.dst
    }

    /// The first fire instant strictly after `after`, or `None` if there is none before
    /// croner's search limit (year 5000).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        // A fold right after `after` may repeat civil times earlier than `after`'s own
        // civil time: start the civil walk early enough to see them.
        let start_civil = self.tz.to_datetime(after) - self.upcoming_fold_len(after);
        let mut civil = start_civil;
        let mut inclusive = true;
        let mut best: Option<Timestamp> = None;
        loop {
            civil = self.cron.find_next_occurrence(&civil, inclusive).ok()?;
            inclusive = false;
            let amb = self.tz.to_ambiguous_timestamp(civil);
            // Civil times map to instants monotonically by their earliest reading, so once
            // a candidate cannot come before `best`, no later one can.
            if let (Some(b), Ok(earliest)) = (best, amb.earlier())
                && earliest >= b
            {
                return best;
            }
            for instant in self.instants_for(civil).into_iter().flatten() {
                if instant > after && best.is_none_or(|b| instant < b) {
                    best = Some(instant);
                }
            }
        }
    }

    /// Fire instants in `(after, until]`, oldest first, at most `limit` of them.
    pub fn fires_between(
        &self,
        after: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut cursor = after;
        while out.len() < limit {
            match self.next_after(cursor) {
                Some(t) if t <= until => {
                    out.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        out
    }

    /// The next `n` fire instants after `after`.
    pub fn upcoming(&self, after: Timestamp, n: usize) -> Vec<Timestamp> {
        self.fires_between(after, Timestamp::MAX, n)
    }

    /// The instants (0, 1 or 2) at which the civil time `civil` fires under the DST policy.
    fn instants_for(&self, civil: DateTime) -> [Option<Timestamp>; 2] {
        let amb = self.tz.to_ambiguous_timestamp(civil);
        match amb.offset() {
            AmbiguousOffset::Unambiguous { offset } => [offset.to_timestamp(civil).ok(), None],
            AmbiguousOffset::Gap { before, .. } => match self.dst.gap {
                GapPolicy::Skip => [None, None],
                GapPolicy::Shift => {
                    // Read with the pre-gap offset, the civil time lands after the
                    // transition; the transition just before that is the end of the gap.
                    let late = before.to_timestamp(civil).ok();
                    let transition = late.and_then(|l| {
                        let probe = l.checked_add(SignedDuration::from_secs(1)).ok()?;
                        self.tz.preceding(probe).next().map(|t| t.timestamp())
                    });
                    [transition, None]
                }
            },
            AmbiguousOffset::Fold { .. } => match self.dst.fold {
                FoldPolicy::First => [amb.earlier().ok(), None],
                FoldPolicy::Last => [amb.later().ok(), None],
                FoldPolicy::Both => [amb.earlier().ok(), amb.later().ok()],
            },
        }
    }

    /// How far the wall clock goes back at the next transition after `t`, if that
    /// transition is a fall-back close enough to matter; zero otherwise.
    fn upcoming_fold_len(&self, t: Timestamp) -> SignedDuration {
        let Some(next) = self.tz.following(t).next() else {
            return SignedDuration::ZERO;
        };
        let now_offset = self.tz.to_offset(t);
        let back = now_offset.duration_since(next.offset());
        if back.is_positive() && next.timestamp().duration_since(t) <= back {
            back
        } else {
            SignedDuration::ZERO
        }
    }
}

/// Vixie cron's day rule: day-of-month and day-of-week are ANDed when either field
/// starts with `*` (croner reads `?` as `*`), and ORed when both are restricted.
///
/// Croner alone only treats a bare `*` as unrestricted, so `*/2` with `MON` would be
/// ORed there ("every odd day or any Monday"); Vixie cron looks at the first character.
/// Macros (`@daily`, …) have a bare `*` day field, for which both rules agree.
fn days_are_anded(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let (dom, dow) = match fields.as_slice() {
        [_, _, dom, _, dow] | [_, _, _, dom, _, dow] => (*dom, *dow),
        _ => return false,
    };
    let starred = |f: &str| f.starts_with('*') || f.starts_with('?');
    starred(dom) || starred(dow)
}

#[cfg(test)]
mod tests;
