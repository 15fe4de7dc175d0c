//! Structured logs with `tracing`: readable text on a terminal, JSON lines with
//! `--log-format json`. `RUST_LOG` overrides the level.
//!
//! Log values carry text from outside (a job's error, a response excerpt, a header). In the text
//! format every field (the message included) is escaped: control characters (`\n`, `\r`, ESC,
//! C1 codes …), Unicode line separators and bidirectional controls (U+202E …) are written as
//! `\n` or `\u{…}`, so a value can neither forge a log line nor drive or reorder the terminal.
//! The JSON format escapes them already.

use std::fmt;
use std::io::IsTerminal;

use tracing_subscriber::{
    EnvFilter,
    field::RecordFields,
    fmt::{
        self as tfmt, FormatFields, MakeWriter,
        format::{DefaultFields, Writer},
    },
};

use crate::cli::LogFormat;

pub(crate) fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},sqlx=warn")));
    // Colours only on a terminal: a log file or collector gets plain text.
    let ansi = std::io::stderr().is_terminal();
    match format {
        LogFormat::Text => text_subscriber(filter, std::io::stderr, ansi).init(),
        LogFormat::Json => tfmt::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

/// The text-format subscriber writing to `writer`, its fields escaped by [`EscapedFields`].
fn text_subscriber<W>(
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> tfmt::SubscriberBuilder<EscapedFields, tfmt::format::Format, EnvFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tfmt::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .fmt_fields(EscapedFields::default())
}

/// The default text rendering of fields, with every control, line-separator and bidi character
/// escaped (see the module documentation). Field names lose their terminal styling: the fields
/// are rendered to a plain buffer first, then escaped as a whole.
#[derive(Debug, Default)]
struct EscapedFields(DefaultFields);

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut raw = String::new();
        self.0.format_fields(Writer::new(&mut raw), fields)?;
        write_escaped(&mut writer, &raw)
    }
}

/// Writes `text` with the characters that could forge a line or steer a terminal escaped.
fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if needs_escape(c) => write!(out, "\\u{{{:x}}}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// Control characters (C0, DEL, C1), the Unicode line and paragraph separators, and the
/// bidirectional formatting characters (marks, embeddings, overrides, isolates).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line, paragraph separator
                | '\u{061c}' | '\u{200e}' | '\u{200f}' // ALM, LRM, RLM
                | '\u{202a}'..='\u{202e}' // LRE, RLE, PDF, LRO, RLO
                | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
        )
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;

    /// Collects everything the subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Capture {
        type Writer = Capture;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Logs with the real text subscriber (as `serve` sets it up, without colours) and returns
    /// what it wrote.
    fn logged(emit: impl FnOnce()) -> String {
        let capture = Capture::default();
        let subscriber = text_subscriber(EnvFilter::new("info"), capture.clone(), false).finish();
        tracing::subscriber::with_default(subscriber, emit);
        capture.text()
    }

    const FORGED: &str = "boom\n2026-12-03T16:00:00.000000Z  INFO warden: admin key created";

    #[test]
    fn a_newline_in_a_job_error_cannot_forge_a_log_line() {
        let out = logged(|| {
            tracing::warn!(job = "nightly", error = %FORGED, "HTTP job run");
            tracing::warn!(error = ?FORGED, "debug-formatted");
            tracing::warn!(reason = FORGED, "a str field");
            tracing::warn!("message itself: {FORGED}");
        });
        assert_eq!(out.lines().count(), 4, "{out}");
        assert!(out.contains("boom\\n2026-12-03"), "{out}");
        assert!(
            out.lines().all(|l| !l.starts_with("2026-12-03T16:00:00")),
            "{out}"
        );
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_do_not_reach_the_terminal() {
        let hostile =
            "\u{1b}]0;pwned\u{7}\u{1b}[2J red\u{9b}31m \u{202e}gnp.exe \u{2066}x\u{2069}\r\u{2028}";
        let out = logged(|| {
            tracing::error!(error = %hostile, "job failed");
            tracing::info!("{hostile}");
            let span = tracing::info_span!("run", job = %hostile);
            span.in_scope(|| tracing::info!("inside"));
        });
        for bad in [
            '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{2069}', '\r', '\u{2028}',
        ] {
            assert!(!out.contains(bad), "{bad:?} passed through: {out:?}");
        }
        assert!(out.contains("\\u{1b}]0;pwned"), "{out}");
        assert!(out.contains("\\u{202e}gnp.exe"), "{out}");
        assert_eq!(out.lines().count(), 3, "{out}");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let out = logged(|| tracing::info!(job = "kpi", status = 200, "HTTP job run — café ok"));
        assert!(
            out.contains("HTTP job run — café ok job=\"kpi\" status=200"),
            "{out}"
        );
    }
}
