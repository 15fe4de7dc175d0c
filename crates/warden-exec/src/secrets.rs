//! Secret providers: where a `secret://NAME` reference is looked up at run time.
//!
//! # Model
//! A [`SecretProvider`] maps a secret *name* to a [`SecretString`]. It is asked again for
//! every run, so a rotated secret is used without a restart, and nothing is cached here.
//! Three providers ship:
//!
//! - [`EnvSecrets`]: an environment variable of the same name (process environment
//!   overlaid on the env file, see [`crate::template::Env`]), optionally prefixed.
//! - [`DirSecrets`]: one file per secret in a directory, `/run/secrets` by default (the
//!   Docker and Kubernetes convention); trailing newlines are trimmed.
//! - [`ChainSecrets`]: asks several providers in order; the first that knows the name wins.
//!
//! # Invariants
//! - A name is 1–128 characters from `A-Z a-z 0-9 . _ -` and does not start with `.`, so it
//!   can never name a path outside the directory (`..`, `/`, `\` and NUL are impossible)
//!   nor Kubernetes' internal `..data` links. Every provider checks it, not only the loader.
//! - A secret file larger than [`MAX_SECRET_FILE_BYTES`] is refused without being read
//!   whole, and only regular files are opened (a FIFO would block the reader).
//! - Errors name the secret, never its value.
//!
//! A Vault-like backend implements the same trait; the call is synchronous, so such a
//! backend keeps its own short-lived cache refreshed by a background task.

use std::{
    fmt,
    io::Read,
    path::{Path, PathBuf},
};

use secrecy::{ExposeSecret, SecretString};

use crate::template::Env;

/// The largest secret file [`DirSecrets`] reads (64 KiB).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The longest accepted secret name.
pub const MAX_SECRET_NAME_LEN: usize = 128;

/// A secret could not be obtained. Messages name the secret, never its value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("secret `{name}` is not set in any secret provider")]
    NotFound { name: String },
    #[error(
        "secret name {name} is not accepted; expected 1 to 128 characters from A-Z, a-z, 0-9, '.', '_', '-', not starting with '.'"
    )]
    InvalidName { name: String },
    #[error("secret `{name}` is larger than {limit} bytes")]
    TooLarge { name: String, limit: u64 },
    #[error("secret `{name}` is empty")]
    Empty { name: String },
    #[error("secret `{name}` is not valid UTF-8")]
    NotUtf8 { name: String },
    #[error("secret `{name}` is not a regular file")]
    NotAFile { name: String },
    #[error("secret `{name}` could not be read: {kind}")]
    Io {
        name: String,
        kind: std::io::ErrorKind,
    },
    /// A backend (e.g. a remote vault) could not answer; `reason` must not contain secrets.
    #[error("secret `{name}` is unavailable: {reason}")]
    Unavailable { name: String, reason: String },
}

/// Looks secrets up by name. Implementations must validate the name (see
/// [`check_secret_name`]) and must not log or return the value in errors.
pub trait SecretProvider: Send + Sync {
    /// The current value of secret `name`.
    ///
    /// `NotFound` means "this provider does not know it" (a chain then asks the next one);
    /// any other error stops the lookup.
    fn get(&self, name: &str) -> Result<SecretString, SecretError>;
}

/// Checks a secret name: 1–128 characters from `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub fn check_secret_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SECRET_NAME_LEN
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SecretError::InvalidName {
            name: excerpt(name),
        })
    }
}

/// A short, quoted, escaped form of a rejected name for error messages.
fn excerpt(name: &str) -> String {
    let head: String = name.chars().take(40).collect();
    if head.len() < name.len() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// Secrets from environment variables: `secret://NAME` reads `{prefix}NAME`.
pub struct EnvSecrets {
    env: Env,
    prefix: String,
}

impl EnvSecrets {
    /// Reads variables from `env` (re-read on every lookup), without a prefix.
    pub fn new(env: Env) -> Self {
        Self {
            env,
            prefix: String::new(),
        }
    }

    /// Reads `{prefix}NAME` instead of `NAME`, e.g. `WARDEN_SECRET_`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSecrets")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SecretProvider for EnvSecrets {
    fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        check_secret_name(name)?;
        let var = format!("{}{name}", self.prefix);
        let snapshot = self.env.snapshot().map_err(|e| SecretError::Unavailable {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        match snapshot.get(&var) {
            Ok(Some(v)) if v.expose_secret().is_empty() => Err(SecretError::Empty {
                name: name.to_owned(),
            }),
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(SecretError::NotFound {
                name: name.to_owned(),
            }),
            Err(_) => Err(SecretError::NotUtf8 {
                name: name.to_owned(),
            }),
        }
    }
}

/// Secrets from files in a directory, one file per secret (`/run/secrets/NAME`).
#[derive(Debug, Clone)]
pub struct DirSecrets {
    root: PathBuf,
}

impl DirSecrets {
    /// Docker's and Kubernetes' usual mount point.
    pub const DEFAULT_ROOT: &'static str = "/run/secrets";

    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Default for DirSecrets {
    fn default() -> Self {
        Self::new(Self::DEFAULT_ROOT)
    }
}

impl SecretProvider for DirSecrets {
    fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        check_secret_name(name)?;
        let path = self.root.join(name);
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => SecretError::NotFound {
                name: name.to_owned(),
            },
            kind => SecretError::Io {
                name: name.to_owned(),
                kind,
            },
        };
        // Symlinks are followed on purpose: Kubernetes mounts each secret as a link into
        // `..data/`. The name rules keep the link's own name inside the directory.
        // TODO-security: the type check and the open are two steps; a writer of the
        // secrets directory could swap in a FIFO between them (it could also just
        // replace the secret, so this grants nothing new).
        let meta = std::fs::metadata(&path).map_err(io)?;
        if !meta.is_file() {
            return Err(SecretError::NotAFile {
                name: name.to_owned(),
            });
        }
        let too_large = || SecretError::TooLarge {
            name: name.to_owned(),
            limit: MAX_SECRET_FILE_BYTES,
        };
        if meta.len() > MAX_SECRET_FILE_BYTES {
            return Err(too_large());
        }
        let file = std::fs::File::open(&path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_SECRET_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
            return Err(too_large());
        }
        let mut text = String::from_utf8(bytes).map_err(|e| {
            // Wipe the bytes we are about to drop: they may be most of a secret.
            secrecy::zeroize::Zeroize::zeroize(&mut e.into_bytes());
            SecretError::NotUtf8 {
                name: name.to_owned(),
            }
        })?;
        let kept = text.trim_end_matches(['\n', '\r']).len();
        text.truncate(kept);
        if text.is_empty() {
            return Err(SecretError::Empty {
                name: name.to_owned(),
            });
        }
        Ok(SecretString::from(text))
    }
}

/// Asks providers in order; the first that has the secret answers.
///
/// Only `NotFound` moves on to the next provider: any other error (unreadable file,
/// backend down) is returned, so a failing primary never silently falls back.
#[derive(Default)]
pub struct ChainSecrets {
    providers: Vec<Box<dyn SecretProvider>>,
}

impl ChainSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a provider, asked after those already in the chain.
    pub fn with(mut self, provider: impl SecretProvider + 'static) -> Self {
        self.providers.push(Box::new(provider));
        self
    }
}

impl fmt::Debug for ChainSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainSecrets")
            .field("providers", &self.providers.len())
            .finish()
    }
}

impl SecretProvider for ChainSecrets {
    fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        check_secret_name(name)?;
        for provider in &self.providers {
            match provider.get(name) {
                Err(SecretError::NotFound { .. }) => continue,
                other => return other,
            }
        }
        Err(SecretError::NotFound {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_the_directory_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "..data",
            "a\0b",
            "é",
        ] {
            assert!(
                matches!(check_secret_name(bad), Err(SecretError::InvalidName { .. })),
                "{bad:?} must be refused"
            );
        }
        for good in ["API_KEY", "jwt-token", "db.password", "a"] {
            assert!(check_secret_name(good).is_ok(), "{good:?} must be accepted");
        }
    }
}
