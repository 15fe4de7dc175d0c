//! The HTTP parts of a job: its URL and its headers (job headers and `defaultHeaders`).

use super::{
    Header, LoadErrorKind, MAX_HEADERS, Reference,
    checker::{Checker, join},
    fields::{note_references, short, template},
    node::{Loc, Node, SNode},
    validate::Defaults,
};
use crate::template::{Part, Template};

const MAX_URL_CHARS: usize = 8192;

/// Headers the HTTP client owns: setting them could break framing or routing.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// A header with where its value is written, to locate references later.
#[derive(Debug)]
pub(super) struct LocatedHeader {
    pub(super) header: Header,
    pub(super) field: String,
    pub(super) loc: Loc,
}

pub(super) fn url(
    c: &mut Checker<'_>,
    node: &SNode,
    field: &str,
    refs: &mut Vec<Reference>,
) -> Option<Template> {
    let t = template(c, node, field)?;
    let problem = url_problem(&t);
    if let Some(p) = problem {
        c.invalid(node, field, p);
        return None;
    }
    note_references(&t, field, Loc::of(node), refs);
    Some(t)
}

/// Why a URL template is refused, if it is.
fn url_problem(t: &Template) -> Option<String> {
    if t.secret_ref().is_some() {
        return Some("the URL cannot be a `secret://` reference: its host must be visible to `warden check`; put secret parts in a header or in the path with ${VAR}".into());
    }
    let parts = t.parts();
    fn literal(p: &Part) -> Option<&str> {
        match p {
            Part::Literal(s) => Some(s),
            _ => None,
        }
    }
    if parts
        .iter()
        .filter_map(literal)
        .any(|s| s.chars().any(|ch| ch.is_control() || ch == ' '))
    {
        return Some("the URL contains spaces or control characters; percent-encode them".into());
    }
    let head = parts.first().and_then(literal).unwrap_or("");
    let authority_closed = head
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains(['/', '?', '#']));
    let has_references = parts.len() > 1 || parts.first().is_some_and(|p| literal(p).is_none());
    if has_references && !authority_closed {
        return Some("the scheme and host must be written literally, without ${…}; references may appear only in the path and query (e.g. https://api.example.com/items/${ITEM_ID})".into());
    }
    let probe: String = parts.iter().map(|p| literal(p).unwrap_or("x")).collect();
    if probe.chars().count() > MAX_URL_CHARS {
        return Some(format!("the URL is longer than {MAX_URL_CHARS} characters"));
    }
    let url = match url::Url::parse(&probe) {
        Ok(u) => u,
        Err(e) => {
            return Some(format!(
                "not a valid URL ({e}); expected e.g. https://api.example.com/path"
            ));
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!(
            "scheme `{}` is not accepted; expected http or https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("credentials in the URL are not accepted (they would be logged); send them in an Authorization header with ${VAR} or secret://".into());
    }
    None
}

/// A `headers` or `defaultHeaders` mapping.
pub(super) fn headers(c: &mut Checker<'_>, node: &SNode, path: &str) -> Option<Vec<LocatedHeader>> {
    if node.value == Node::Null {
        return Some(Vec::new());
    }
    let entries = c.map(node, path)?;
    let mut ok = true;
    if entries.len() > MAX_HEADERS {
        c.invalid(
            node,
            path,
            format!(
                "{} headers; at most {MAX_HEADERS} are accepted",
                entries.len()
            ),
        );
        return None;
    }
    let mut out: Vec<LocatedHeader> = Vec::new();
    for (key, value) in entries {
        let field = join(path, &key.value);
        let name = key.value.as_str();
        let key_loc = Loc::of(key);
        if let Some(first) = out
            .iter()
            .find(|h| h.header.name.eq_ignore_ascii_case(name))
        {
            let line = first.loc.line;
            c.err(
                key_loc,
                &field,
                LoadErrorKind::DuplicateKey,
                format!(
                    "header `{name}` is set twice (first at line {line}; header names ignore case)"
                ),
            );
            ok = false;
            continue;
        }
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            c.err(
                key_loc,
                &field,
                LoadErrorKind::InvalidValue,
                format!(
                    "{} is not a valid header name; expected letters, digits and !#$%&'*+-.^_`|~",
                    short(name)
                ),
            );
            ok = false;
            continue;
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            c.err(
                key_loc,
                &field,
                LoadErrorKind::InvalidValue,
                format!("header `{name}` is set by warden's HTTP client and cannot be configured"),
            );
            ok = false;
            continue;
        }
        let Some(t) = template(c, value, &field) else {
            ok = false;
            continue;
        };
        let bad = t.parts().iter().any(
            |p| matches!(p, Part::Literal(s) if s.chars().any(|ch| ch.is_control() && ch != '\t')),
        );
        if bad {
            // The value is not quoted back: header values are where credentials live.
            c.invalid(
                value,
                &field,
                "the header value contains a line break or control character",
            );
            ok = false;
            continue;
        }
        out.push(LocatedHeader {
            header: Header {
                name: name.to_owned(),
                value: t,
            },
            field,
            loc: Loc::of(value),
        });
    }
    ok.then_some(out)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The job's own headers, then the defaults it does not override (case-insensitively),
/// recording the references of every header kept.
pub(super) fn merge_headers(
    c: &mut Checker<'_>,
    own: Vec<LocatedHeader>,
    defaults: &Defaults,
    node: &SNode,
    path: &str,
    refs: &mut Vec<Reference>,
) -> Option<Vec<Header>> {
    let inherited = defaults.headers.iter().filter(|d| {
        !own.iter()
            .any(|o| o.header.name.eq_ignore_ascii_case(&d.header.name))
    });
    let mut out = Vec::new();
    for h in own.iter().chain(inherited) {
        note_references(&h.header.value, &h.field, h.loc, refs);
        out.push(h.header.clone());
    }
    if out.len() > MAX_HEADERS {
        c.invalid(
            node,
            &join(path, "headers"),
            format!(
                "{} headers with the defaults; at most {MAX_HEADERS} are accepted",
                out.len()
            ),
        );
        return None;
    }
    Some(out)
}
