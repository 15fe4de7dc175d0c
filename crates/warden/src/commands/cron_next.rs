//! `warden cron next`: show when an expression fires, in its zone and in UTC.

use std::fmt::Write as _;

use anyhow::Context;
use jiff::{Timestamp, tz::TimeZone};
use warden_core::{CronSpec, DstPolicy};

use crate::cli::CronNextArgs;

pub(crate) fn run(args: CronNextArgs) -> anyhow::Result<()> {
    print!("{}", render(&args)?);
    Ok(())
}

fn render(args: &CronNextArgs) -> anyhow::Result<String> {
    let dst = DstPolicy {
        gap: args.dst_gap.parse()?,
        fold: args.dst_fold.parse()?,
    };
    let spec = CronSpec::parse(&args.expr, &args.tz, dst)?;
    let after = match &args.after {
        Some(s) => s.parse::<Timestamp>().with_context(|| {
            format!("invalid `--after` {s:?}: expected RFC 3339, e.g. 2030-01-01T00:00:00Z")
        })?,
        None => Timestamp::now(),
    };
    let fires = spec.upcoming(after, usize::from(args.count));
    let mut out = String::new();
    writeln!(out, "{:<32} UTC", format!("local ({})", spec.tz_name()))?;
    for t in &fires {
        let local = t.to_zoned(spec.time_zone().clone());
        writeln!(
            out,
            "{:<32} {}",
            local.strftime("%Y-%m-%d %H:%M:%S %:z %a").to_string(),
            t.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        )?;
    }
    if fires.len() < usize::from(args.count) {
        writeln!(out, "(no further fire times)")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(expr: &str, tz: &str, n: u16) -> CronNextArgs {
        CronNextArgs {
            expr: expr.into(),
            tz: tz.into(),
            count: n,
            dst_gap: "shift".into(),
            dst_fold: "first".into(),
            after: Some("2026-03-27T12:00:00Z".into()),
        }
    }

    #[test]
    fn prints_local_and_utc_across_a_dst_change() {
        let out = render(&args("30 9 * * *", "Europe/Paris", 3)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["local", "(Europe/Paris)", "UTC"]
        );
        // Paris moves to summer time on 2026-03-29: 09:30 local is 08:30Z, then 07:30Z.
        assert!(
            lines[1].starts_with("2026-03-28 09:30:00 +01:00 Sat")
                && lines[1].ends_with("2026-03-28 08:30:00Z"),
            "{out}"
        );
        assert!(
            lines[2].starts_with("2026-03-29 09:30:00 +02:00 Sun")
                && lines[2].ends_with("2026-03-29 07:30:00Z"),
            "{out}"
        );
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn refuses_bad_input_naming_the_field() {
        let err = render(&args("0 0 0 31 2 *", "UTC", 1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`cron`") && err.contains("never fire"),
            "{err}"
        );
        let err = render(&args("* * * * *", "Nowhere/City", 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`timezone`"), "{err}");
        let mut bad = args("* * * * *", "UTC", 1);
        bad.dst_fold = "middle".into();
        assert!(render(&bad).unwrap_err().to_string().contains("`dstFold`"));
    }
}
