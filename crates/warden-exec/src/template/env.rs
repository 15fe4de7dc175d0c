//! The variables `${NAME}` reads: the process environment overlaid on an optional env file.
//!
//! # Model
//! An [`Env`] describes *where* variables come from, not their values: every
//! [`Env::snapshot`] reads the env file again, and process variables are read at lookup,
//! so a rotated value is seen by the next run. The process environment wins over the
//! file. The file is parsed with dotenvy's iterator, which never mutates the process
//! environment (warden is multi-threaded; `set_var` would be unsound and is `unsafe`).
//!
//! The env file is `--env-file PATH` when given (it must then exist), else `.env` in the
//! working directory when present (see [`Env::discover`]).
//!
//! # Invariants
//! - Values are [`SecretString`]s from the moment they are read.
//! - Errors never contain a value: dotenvy's parse error carries the offending line,
//!   which is replaced by its line number.
//! - An env file larger than [`MAX_ENV_FILE_BYTES`] is refused.

use std::{
    collections::HashMap,
    fmt,
    io::Read,
    path::{Path, PathBuf},
};

use secrecy::SecretString;

/// The largest env file read (1 MiB).
pub const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// The env file could not be used. Never contains a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    #[error("env file {path} could not be read: {kind}")]
    Io {
        path: PathBuf,
        kind: std::io::ErrorKind,
    },
    #[error("env file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("env file {path} is not valid UTF-8")]
    NotUtf8 { path: PathBuf },
    #[error("env file {path}, line {line}: not a `NAME=value` line")]
    Syntax { path: PathBuf, line: usize },
    #[error("environment variable `{name}` is not valid UTF-8")]
    VarNotUtf8 { name: String },
}

#[derive(Clone)]
enum Process {
    /// The real process environment, read at each lookup.
    Os,
    /// Fixed values (tests, embedding): the process environment is not consulted.
    Fixed(HashMap<String, SecretString>),
}

#[derive(Debug, Clone)]
struct EnvFile {
    path: PathBuf,
    required: bool,
}

/// Where `${NAME}` values come from. Cheap to clone; holds no values from files.
#[derive(Clone)]
pub struct Env {
    process: Process,
    file: Option<EnvFile>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let process = match &self.process {
            Process::Os => "os".to_owned(),
            Process::Fixed(m) => format!("fixed({} variables)", m.len()),
        };
        f.debug_struct("Env")
            .field("process", &process)
            .field("file", &self.file)
            .finish()
    }
}

impl Env {
    /// The process environment, without an env file.
    pub fn from_process() -> Self {
        Self {
            process: Process::Os,
            file: None,
        }
    }

    /// Fixed variables instead of the process environment (tests and embedding).
    pub fn fixed<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = vars
            .into_iter()
            .map(|(k, v)| (k.into(), SecretString::from(v.into())))
            .collect();
        Self {
            process: Process::Fixed(map),
            file: None,
        }
    }

    /// Adds an env file that must exist (`--env-file PATH`).
    pub fn with_env_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(EnvFile {
            path: path.into(),
            required: true,
        });
        self
    }

    /// The process environment plus `explicit` (`--env-file`, which must exist) or else
    /// `working_dir/.env` when that file is present (it may later disappear).
    pub fn discover(explicit: Option<&Path>, working_dir: &Path) -> Self {
        let file = match explicit {
            Some(path) => Some(EnvFile {
                path: path.to_owned(),
                required: true,
            }),
            None => {
                let path = working_dir.join(".env");
                path.is_file().then_some(EnvFile {
                    path,
                    required: false,
                })
            }
        };
        Self {
            process: Process::Os,
            file,
        }
    }

    /// The env file in use, if any.
    pub fn env_file(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    /// Reads the env file now; process variables are read at each lookup.
    pub fn snapshot(&self) -> Result<EnvSnapshot<'_>, EnvError> {
        let file_vars = match &self.file {
            Some(file) => read_env_file(file)?,
            None => HashMap::new(),
        };
        Ok(EnvSnapshot {
            process: &self.process,
            file_vars,
        })
    }
}

/// The variables as of one read of the env file.
pub struct EnvSnapshot<'a> {
    process: &'a Process,
    file_vars: HashMap<String, SecretString>,
}

impl fmt::Debug for EnvSnapshot<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSnapshot")
            .field("file_vars", &self.file_vars.len())
            .finish_non_exhaustive()
    }
}

impl EnvSnapshot<'_> {
    /// The value of `name`: the process environment first, then the env file.
    /// `Ok(None)` when it is set in neither. A set but empty variable is `Some("")`.
    pub fn get(&self, name: &str) -> Result<Option<SecretString>, EnvError> {
        let from_process = match self.process {
            Process::Os => match std::env::var(name) {
                Ok(v) => Some(SecretString::from(v)),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(EnvError::VarNotUtf8 {
                        name: name.to_owned(),
                    });
                }
            },
            Process::Fixed(map) => map.get(name).cloned(),
        };
        Ok(from_process.or_else(|| self.file_vars.get(name).cloned()))
    }

    /// Whether `name` is set (possibly empty).
    pub fn is_set(&self, name: &str) -> Result<bool, EnvError> {
        self.get(name).map(|v| v.is_some())
    }
}

fn read_env_file(file: &EnvFile) -> Result<HashMap<String, SecretString>, EnvError> {
    let path = &file.path;
    let io = |e: std::io::Error| EnvError::Io {
        path: path.clone(),
        kind: e.kind(),
    };
    let handle = match std::fs::File::open(path) {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !file.required => {
            return Ok(HashMap::new());
        }
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    handle
        .take(MAX_ENV_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_ENV_FILE_BYTES {
        return Err(EnvError::TooLarge {
            path: path.clone(),
            limit: MAX_ENV_FILE_BYTES,
        });
    }
    let text = SecretString::from(
        String::from_utf8(bytes).map_err(|_| EnvError::NotUtf8 { path: path.clone() })?,
    );
    let text = secrecy::ExposeSecret::expose_secret(&text);
    let mut vars = HashMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((k, v)) => {
                vars.insert(k, SecretString::from(v));
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                // The line may hold a secret: report its number only.
                let number = text
                    .lines()
                    .position(|l| l.trim_end() == line.trim_end())
                    .map_or(0, |i| i + 1);
                return Err(EnvError::Syntax {
                    path: path.clone(),
                    line: number,
                });
            }
            Err(dotenvy::Error::Io(e)) => return Err(io(e)),
            Err(_) => {
                return Err(EnvError::Syntax {
                    path: path.clone(),
                    line: 0,
                });
            }
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn process_variables_win_over_the_env_file_and_the_file_is_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.env");
        std::fs::write(&path, "A=from-file\nB=file-b\n").unwrap();
        let env = Env::fixed([("A", "from-process")]).with_env_file(&path);
        let snap = env.snapshot().unwrap();
        assert_eq!(
            snap.get("A").unwrap().unwrap().expose_secret(),
            "from-process"
        );
        assert_eq!(snap.get("B").unwrap().unwrap().expose_secret(), "file-b");
        assert!(snap.get("C").unwrap().is_none());

        std::fs::write(&path, "B=rotated\n").unwrap();
        let again = env.snapshot().unwrap();
        assert_eq!(again.get("B").unwrap().unwrap().expose_secret(), "rotated");
    }

    #[test]
    fn a_bad_env_file_line_is_reported_by_number_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "OK=1\nthis is hunter2 not a pair\n").unwrap();
        let err = Env::fixed::<&str, &str>([])
            .with_env_file(&path)
            .snapshot()
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, EnvError::Syntax { line: 2, .. }), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn a_missing_explicit_env_file_is_an_error_but_a_vanished_dot_env_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.env");
        assert!(matches!(
            Env::from_process().with_env_file(&missing).snapshot(),
            Err(EnvError::Io { .. })
        ));
        std::fs::write(dir.path().join(".env"), "X=1\n").unwrap();
        let env = Env::discover(None, dir.path());
        assert!(env.env_file().is_some());
        std::fs::remove_file(dir.path().join(".env")).unwrap();
        assert!(env.snapshot().is_ok());
    }
}
