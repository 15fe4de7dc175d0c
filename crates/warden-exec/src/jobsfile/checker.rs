//! The error collector of pass 2 and its typed accessors for located nodes.

use std::collections::HashMap;

use super::{
    LoadError, LoadErrorKind,
    node::{Entry, Loc, Node, SNode},
};

/// Collects errors for one file.
pub(super) struct Checker<'f> {
    file: &'f str,
    errors: Vec<LoadError>,
}

impl<'f> Checker<'f> {
    pub(super) fn new(file: &'f str) -> Self {
        Self {
            file,
            errors: Vec::new(),
        }
    }

    pub(super) fn into_errors(self) -> Vec<LoadError> {
        self.errors
    }
}

impl Checker<'_> {
    pub(super) fn err(
        &mut self,
        loc: Loc,
        field: &str,
        kind: LoadErrorKind,
        message: impl Into<String>,
    ) {
        self.errors
            .push(LoadError::new(self.file, loc, field, kind, message));
    }

    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Names job `name` in every error recorded since the count was `from` that does not
    /// name a job yet, so that each of a job's errors says whose it is (a cron or time-zone
    /// error too).
    pub(super) fn name_job_since(&mut self, from: usize, name: &str) {
        for e in self.errors.iter_mut().skip(from) {
            if !e.message.contains("job `") {
                e.message.push_str(&format!(" (job `{name}`)"));
            }
        }
    }

    /// A wrong-type error: "expected X, found Y".
    pub(super) fn wrong_type(&mut self, node: &SNode, field: &str, expected: &str) {
        let found = node.value.kind();
        self.err(
            Loc::of(node),
            field,
            LoadErrorKind::WrongType,
            format!("expected {expected}, found {found}"),
        );
    }

    pub(super) fn map<'n>(&mut self, node: &'n SNode, field: &str) -> Option<&'n [Entry]> {
        match &node.value {
            Node::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(node, field, "a mapping");
                None
            }
        }
    }

    /// The values of a mapping's keys, checking for duplicates and (when `allowed` is
    /// given) unknown keys. A duplicate keeps its first value.
    pub(super) fn keys<'n>(
        &mut self,
        entries: &'n [Entry],
        path: &str,
        allowed: &[&str],
    ) -> HashMap<&'n str, &'n SNode> {
        let mut seen: HashMap<&str, &SNode> = HashMap::new();
        for (key, value) in entries {
            let field = join(path, &key.value);
            let loc = Loc::of(key);
            if let Some(first) = seen.get(key.value.as_str()) {
                let first = Loc::of(*first);
                self.err(
                    loc,
                    &field,
                    LoadErrorKind::DuplicateKey,
                    format!(
                        "duplicate key `{}` (first at line {}); remove one",
                        key.value, first.line
                    ),
                );
                continue;
            }
            if !allowed.contains(&key.value.as_str()) {
                let hint = suggestion(&key.value, allowed)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                self.err(
                    loc,
                    &field,
                    LoadErrorKind::UnknownKey,
                    format!(
                        "unknown key `{}`; {hint}accepted keys: {}",
                        key.value,
                        allowed.join(", ")
                    ),
                );
                continue;
            }
            seen.insert(&key.value, value);
        }
        seen
    }

    pub(super) fn string<'n>(&mut self, node: &'n SNode, field: &str) -> Option<&'n str> {
        match &node.value {
            Node::Str(s) => Some(s),
            _ => {
                self.wrong_type(node, field, "a string (quote it)");
                None
            }
        }
    }

    pub(super) fn int(&mut self, node: &SNode, field: &str) -> Option<i128> {
        match node.value {
            Node::Int(i) => Some(i),
            _ => {
                self.wrong_type(node, field, "a whole number");
                None
            }
        }
    }

    pub(super) fn bool(&mut self, node: &SNode, field: &str) -> Option<bool> {
        match &node.value {
            Node::Bool(b) => Some(*b),
            Node::Str(s)
                if ["yes", "no", "on", "off", "y", "n"]
                    .contains(&s.to_ascii_lowercase().as_str()) =>
            {
                self.wrong_type(
                    node,
                    field,
                    "true or false (`yes`, `no`, `on` and `off` are strings in YAML 1.2)",
                );
                None
            }
            _ => {
                self.wrong_type(node, field, "true or false");
                None
            }
        }
    }

    pub(super) fn invalid(&mut self, node: &SNode, field: &str, message: impl Into<String>) {
        self.err(Loc::of(node), field, LoadErrorKind::InvalidValue, message);
    }

    /// Parses a string with `FromStr` into a warden-core type, reporting its `ParseError`.
    pub(super) fn parsed<T>(
        &mut self,
        node: &SNode,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, warden_core::ParseError>,
    ) -> Option<T> {
        let s = self.string(node, field)?;
        parse(s)
            .map_err(|e| {
                self.invalid(
                    node,
                    field,
                    format!("{}; expected {}", e.problem, e.expected),
                )
            })
            .ok()
    }
}

/// `path.key`, or `path["odd key"]` when the key is not a plain word.
pub(super) fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// The accepted key closest to `key`: equal when case and `-`/`_` are ignored
/// (`default_timeout` → `defaultTimeout`), or within two edits (`timout` → `timeout`).
fn suggestion<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let k = norm(key);
    if k.len() > 64 {
        return None;
    }
    allowed
        .iter()
        .map(|a| (edit_distance(&k, &norm(a)), *a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Levenshtein distance (inputs are short keys).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
