//! The server secret that API keys are hashed with (HMAC-SHA-256).
//!
//! `WARDEN_SECRET` when set (at least 32 characters; every node sharing a PostgreSQL
//! database must have the same one); otherwise the file `server.secret` in the data
//! directory, created with 32 random bytes and mode 0600 on first use. Losing the secret
//! invalidates every stored key (they can be re-issued with `warden keys create`).
//!
//! The database keeps a check value of the secret (an HMAC of a fixed label under it,
//! never the secret), written by the first process that uses the database. A process
//! whose secret does not give the same value ([`verify`]) refuses to start or to issue
//! keys, rather than making keys the others silently reject.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use std::fmt;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use warden_security::apikey::{KeyHash, KeyHasher, generate_server_secret};
use warden_store::AccessStore;

const FILE: &str = "server.secret";

/// The secret's source, for messages (never its value).
pub(crate) enum Source {
    Env,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env => f.write_str("WARDEN_SECRET"),
            Source::File(path) => write!(f, "the file {}", path.display()),
        }
    }
}

/// Checks the secret against the database's check value, recording it if the database
/// has none yet.
///
/// # Errors
/// When the database was set up with another secret: the message says which secret this
/// process used and how to give it the right one.
pub(crate) async fn verify<S: AccessStore>(
    store: &S,
    hasher: &KeyHasher,
    source: &Source,
) -> anyhow::Result<()> {
    let ours = hasher.check_value();
    let stored = store
        .secret_check_ensure(ours.to_hex(), jiff::Timestamp::now())
        .await
        .context("could not read the server secret's check value from the database")?;
    if !KeyHash::from_hex(&stored).is_ok_and(|s| s.ct_eq(&ours)) {
        bail!(
            "the server secret from {source} is not the one this database was set up with: keys made or checked with it would not match the server's. \
             Every process using this database needs the same secret: set WARDEN_SECRET to the server's value, or give --data-dir the directory holding the server's server.secret"
        );
    }
    Ok(())
}

/// Loads (or creates) the server secret and builds the key hasher from it.
pub(crate) fn load(
    data_dir: &Path,
    env: Option<SecretString>,
) -> anyhow::Result<(KeyHasher, Source)> {
    let (secret, source) = match env {
        Some(s) => {
            let len = s.expose_secret().chars().count();
            if len < 32 {
                bail!(
                    "WARDEN_SECRET is too short: {len} characters, at least 32 are required; generate one with `openssl rand -hex 32`"
                );
            }
            (s, Source::Env)
        }
        None => {
            let path = data_dir.join(FILE);
            (read_or_create(&path)?, Source::File(path))
        }
    };
    let hasher = KeyHasher::new(secret.expose_secret().as_bytes())
        .context("the server secret cannot be used")?;
    Ok((hasher, source))
}

fn read_or_create(path: &Path) -> anyhow::Result<SecretString> {
    match fs::read_to_string(path) {
        Ok(s) => {
            check_private(path)?;
            let s = s.trim().to_owned();
            if s.len() < 32 {
                bail!(
                    "{} holds a secret shorter than 32 characters; delete it to have a new one made (stored keys must then be re-issued)",
                    path.display()
                );
            }
            Ok(SecretString::from(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).with_context(|| {
                format!("could not create the data directory for {}", path.display())
            })?;
            let secret = generate_server_secret();
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .with_context(|| format!("could not create {}", path.display()))?;
            file.write_all(secret.expose_secret().as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "created a new server secret for hashing API keys");
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Refuses a secret file others can read.
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by other users (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_file_is_made_private_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = load(dir.path(), None).unwrap();
        let (b, _) = load(dir.path(), None).unwrap();
        assert_eq!(a.hash("wdn_x").to_hex(), b.hash("wdn_x").to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join(FILE);
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let err = load(dir.path(), None).err().unwrap().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
        let short = load(dir.path(), Some(SecretString::from("short")))
            .err()
            .unwrap()
            .to_string();
        assert!(
            short.contains("openssl rand -hex 32") && !short.contains("\"short\""),
            "{short}"
        );
        let (c, _) = load(dir.path(), Some(SecretString::from("x".repeat(40)))).unwrap();
        assert_ne!(c.hash("wdn_x").to_hex(), a.hash("wdn_x").to_hex());
    }
}
