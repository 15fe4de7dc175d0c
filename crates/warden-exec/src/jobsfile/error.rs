//! Load errors: every problem in a jobs file, each with file, line, column and field.

use std::fmt;

use super::node::Loc;

/// What kind of problem a [`LoadError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io,
    /// The file is larger than the limit.
    TooLarge,
    /// Not YAML, or YAML the loader refuses (several documents, unknown tags).
    Syntax,
    /// A resource limit was hit: nesting depth, node count, alias expansion.
    Limit,
    /// A key that the format does not define (often a typo).
    UnknownKey,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// Two jobs with the same `name`.
    DuplicateName,
    /// A value of the wrong type (`timeout: "10s"`, `headers: [a]`).
    WrongType,
    /// A required key is absent.
    MissingField,
    /// A value of the right type that is not acceptable (bad cron, zone, URL, method, range).
    InvalidValue,
    /// A malformed `${…}` or `secret://` reference.
    Template,
    /// A `${NAME}` whose variable is not set (see `check_env`).
    UnsetVariable,
    /// The env file could not be read.
    EnvFile,
    /// A `secret://NAME` that no provider has (see `check_secrets`).
    UnknownSecret,
}

/// One problem in a jobs file.
///
/// Displayed as `file:line:column: field: message`. The message never contains a
/// header value, a variable's value or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct LoadError {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a place (unreadable file).
    pub line: u32,
    /// 1-based, in characters; 0 when unknown.
    pub column: u32,
    /// The field, as a path: `jobs[2].schedule`, `global.defaultHeaders.Accept`.
    /// Empty for problems of the whole file.
    pub field: String,
    pub kind: LoadErrorKind,
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(
        file: &str,
        loc: Loc,
        field: impl Into<String>,
        kind: LoadErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_owned(),
            line: loc.line,
            column: loc.column,
            field: field.into(),
            kind,
            message: message.into(),
        }
    }

    pub fn loc(&self) -> Loc {
        Loc {
            line: self.line,
            column: self.column,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the problems found in a jobs file, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(Vec<LoadError>);

impl LoadErrors {
    /// Sorts by position (stable, so equal positions keep discovery order).
    /// Returns `None` for an empty list: "no errors" is not an error.
    pub fn new(mut errors: Vec<LoadError>) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        errors.sort_by_key(|e| (e.line, e.column));
        Some(Self(errors))
    }

    pub(crate) fn one(error: LoadError) -> Self {
        Self(vec![error])
    }

    pub fn errors(&self) -> &[LoadError] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, LoadError> {
        self.0.iter()
    }

    pub fn into_vec(self) -> Vec<LoadError> {
        self.0
    }
}

impl IntoIterator for LoadErrors {
    type Item = LoadError;
    type IntoIter = std::vec::IntoIter<LoadError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a LoadErrors {
    type Item = &'a LoadError;
    type IntoIter = std::slice::Iter<'a, LoadError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// One error per line, then a count.
impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for LoadErrors {}

/// Maps serde-saphyr's single structural error to ours, keeping its location.
pub(crate) fn from_yaml(file: &str, err: &serde_saphyr::Error) -> LoadError {
    let loc = err.location().map_or(Loc::default(), Loc::from_saphyr);
    let inner = err.without_snippet();
    let message = strip_location_suffix(&inner.to_string());
    let kind = match inner {
        serde_saphyr::Error::Budget { .. }
        | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. } => LoadErrorKind::Limit,
        // Alias-located wrappers hide the variant, and the parser's own nesting guard
        // reports as a plain parse error: both are recognised by their wording.
        _ if message.contains("budget breached") || message.contains("limit exceeded") => {
            LoadErrorKind::Limit
        }
        _ => LoadErrorKind::Syntax,
    };
    // The message is taken without the source snippet: the location is ours to render,
    // and a snippet could quote a line holding a value we never echo.
    let message = match kind {
        LoadErrorKind::Limit => format!(
            "{message}; the file exceeds warden's limits for job files (deep nesting or alias expansion such as a \"billion laughs\" file)"
        ),
        _ => message,
    };
    LoadError::new(file, loc, "", kind, message)
}

/// serde-saphyr ends messages with `at line L, column C …`, which our prefix already says.
fn strip_location_suffix(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
