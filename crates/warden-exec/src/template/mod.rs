//! `${VAR}` templates in job values, parsed at load and resolved at execution time.
//!
//! # Model
//! A [`Template`] is parsed from a string value *after* the YAML is parsed, so a
//! substituted value can never inject YAML structure. It is either
//!
//! - a sequence of parts: literal text, `${NAME}` (an environment variable) and the
//!   built-ins `${NOW}`, `${JOB_NAME}`, `${RUN_ID}`; or
//! - a secret reference: the whole value is exactly `secret://NAME`.
//!
//! `$${` is a literal `${`; any other `$` is literal. Variable names are
//! `[A-Za-z_][A-Za-z0-9_]*`; anything else after `${` (`${A-B}`, `${}`, `${A:-x}`, an
//! unterminated `${A`) is an error. The built-in names win over environment variables
//! of the same name.
//!
//! Resolution ([`resolve()`]) happens for every run: the environment, the env file and
//! the secret providers are read again each time, so a rotated secret is used without a
//! restart, and a resolved value is never stored. At load, [`check_env`] makes an unset
//! variable an error instead of an empty string sent to a server.
//!
//! # Layout
//! - this file: [`Template`] and its parser.
//! - [`mod@env`]: [`Env`], the process environment overlaid on an optional env file.
//! - [`resolve`](mod@resolve): [`Builtins`], [`resolve()`], [`Resolved`], [`check_env`],
//!   [`check_secrets`].
//! - [`request`]: [`resolve_request`], a whole job's request for one run.

use std::fmt;

use crate::secrets::check_secret_name;

pub mod env;
pub mod request;
pub mod resolve;

pub use env::{Env, EnvError, EnvSnapshot};
pub use request::{ResolvedRequest, resolve_request};
pub use resolve::{Builtins, ResolveError, Resolved, check_env, check_secrets, resolve};

/// The prefix that makes a whole value a secret reference.
pub const SECRET_SCHEME: &str = "secret://";

/// A built-in variable, provided by warden for each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `${NOW}`: the scheduled instant, RFC 3339 in UTC.
    Now,
    /// `${JOB_NAME}`: the job's `name`.
    JobName,
    /// `${RUN_ID}`: the run's identifier.
    RunId,
}

impl Builtin {
    pub const ALL: [Builtin; 3] = [Builtin::Now, Builtin::JobName, Builtin::RunId];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Now => "NOW",
            Builtin::JobName => "JOB_NAME",
            Builtin::RunId => "RUN_ID",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Part {
    Literal(String),
    /// An environment variable, by name.
    Var(String),
    Builtin(Builtin),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Parts(Vec<Part>),
    Secret(String),
}

/// A parsed value with `${…}` references; see the module documentation.
///
/// Adjacent literal text is always merged, so two templates are equal exactly when they
/// mean the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Template {
    kind: Kind,
}

/// What is wrong in a template string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error(
        "`${{` at character {at} is not closed; write `${{NAME}}`, or `$${{` for a literal `${{`"
    )]
    Unterminated { at: usize },
    #[error("`${{}}` at character {at} has no variable name")]
    EmptyName { at: usize },
    #[error(
        "`${{{name}}}` at character {at} is not a variable reference; names are letters, digits and '_', not starting with a digit (defaults like `${{A:-x}}` are not supported); write `$${{` for a literal `${{`"
    )]
    InvalidName { at: usize, name: String },
    #[error("{0}")]
    SecretName(String),
}

impl TemplateError {
    /// The character index in the value where the problem starts.
    pub fn at(&self) -> usize {
        match self {
            Self::Unterminated { at } | Self::EmptyName { at } | Self::InvalidName { at, .. } => {
                *at
            }
            Self::SecretName(_) => 0,
        }
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Parses a value; see the module documentation for the syntax.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if let Some(name) = source.strip_prefix(SECRET_SCHEME) {
            check_secret_name(name).map_err(|e| {
                TemplateError::SecretName(format!(
                    "{e}; a `secret://` reference must be the whole value"
                ))
            })?;
            return Ok(Self {
                kind: Kind::Secret(name.to_owned()),
            });
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        let mut at = 0; // character index of `rest` in `source`
        while let Some(dollar) = rest.find('$') {
            let (before, from_dollar) = rest.split_at(dollar);
            literal.push_str(before);
            at += before.chars().count();
            if let Some(after) = from_dollar.strip_prefix("$${") {
                literal.push_str("${");
                rest = after;
                at += 3;
            } else if let Some(inner) = from_dollar.strip_prefix("${") {
                let close = inner.find('}').ok_or(TemplateError::Unterminated { at })?;
                let name = &inner[..close];
                if name.is_empty() {
                    return Err(TemplateError::EmptyName { at });
                }
                if !is_var_name(name) {
                    let shown: String = name.chars().take(40).collect();
                    return Err(TemplateError::InvalidName { at, name: shown });
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(match Builtin::from_name(name) {
                    Some(b) => Part::Builtin(b),
                    None => Part::Var(name.to_owned()),
                });
                rest = &inner[close + 1..];
                at += name.chars().count() + 3;
            } else {
                literal.push('$');
                rest = &from_dollar[1..];
                at += 1;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            kind: Kind::Parts(parts),
        })
    }

    /// A template that is exactly `text`, with no references.
    pub fn literal(text: &str) -> Self {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Literal(text.to_owned())]
        };
        Self {
            kind: Kind::Parts(parts),
        }
    }

    /// The parts; empty for a secret reference (see [`Template::secret_ref`]).
    pub fn parts(&self) -> &[Part] {
        match &self.kind {
            Kind::Parts(p) => p,
            Kind::Secret(_) => &[],
        }
    }

    /// The secret name when the value is `secret://NAME`.
    pub fn secret_ref(&self) -> Option<&str> {
        match &self.kind {
            Kind::Secret(name) => Some(name),
            Kind::Parts(_) => None,
        }
    }

    /// The environment variables it references, in order (repeats included).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts().iter().filter_map(|p| match p {
            Part::Var(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The text when the template has no references at all.
    pub fn as_literal(&self) -> Option<&str> {
        match &self.kind {
            Kind::Parts(p) => match p.as_slice() {
                [] => Some(""),
                [Part::Literal(s)] => Some(s),
                _ => None,
            },
            Kind::Secret(_) => None,
        }
    }

    /// Whether resolving it may use something other than its own text.
    pub fn has_references(&self) -> bool {
        self.as_literal().is_none()
    }
}

/// Writes the template back in its source syntax (`${` in literals becomes `$${`), so
/// `Template::parse(&t.to_string()) == Ok(t)` for every parsed template, and for every
/// literal except one starting with `secret://` (the syntax has no escape for that
/// prefix: such a value is always a secret reference).
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Secret(name) => write!(f, "{SECRET_SCHEME}{name}"),
            Kind::Parts(parts) => {
                for part in parts {
                    match part {
                        Part::Literal(text) => f.write_str(&text.replace("${", "$${"))?,
                        Part::Var(name) => write!(f, "${{{name}}}")?,
                        Part::Builtin(b) => write!(f, "${{{}}}", b.name())?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
