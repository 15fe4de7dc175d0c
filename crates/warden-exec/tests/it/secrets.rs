//! The directory secret provider: trimming, limits, and no way out of the directory.

use secrecy::ExposeSecret;
use warden_exec::{
    ChainSecrets, DirSecrets, Env, EnvSecrets, SecretError, SecretProvider,
    secrets::MAX_SECRET_FILE_BYTES,
};

#[test]
fn a_secret_file_is_read_with_its_trailing_newlines_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.password"), "p@ss word\r\n\n").unwrap();
    let s = DirSecrets::new(dir.path()).get("db.password").unwrap();
    assert_eq!(s.expose_secret(), "p@ss word");
    assert_eq!(
        DirSecrets::default().root(),
        std::path::Path::new("/run/secrets")
    );
}

#[test]
fn traversal_attempts_are_refused_before_touching_the_filesystem() {
    let root = tempfile::tempdir().unwrap();
    let inner = root.path().join("secrets");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(root.path().join("outside"), "must-not-leak").unwrap();
    let provider = DirSecrets::new(&inner);
    for name in [
        "../outside",
        "..",
        ".",
        "/etc/passwd",
        "a/../../outside",
        "..data",
        "%2e%2e",
        "x\0y",
        "",
    ] {
        match provider.get(name) {
            Err(SecretError::InvalidName { .. }) => {}
            other => panic!(
                "{name:?} gave {:?}",
                other.map(|s| s.expose_secret().to_owned())
            ),
        }
    }
}

#[test]
fn large_empty_and_non_file_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![b'a'; MAX_SECRET_FILE_BYTES as usize + 1];
    std::fs::write(dir.path().join("big"), big).unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    std::fs::write(dir.path().join("binary"), [0xff, 0xfe]).unwrap();
    let p = DirSecrets::new(dir.path());
    assert!(matches!(p.get("big"), Err(SecretError::TooLarge { .. })));
    assert!(matches!(p.get("empty"), Err(SecretError::Empty { .. })));
    assert!(matches!(p.get("adir"), Err(SecretError::NotAFile { .. })));
    assert!(matches!(p.get("binary"), Err(SecretError::NotUtf8 { .. })));
    assert!(matches!(p.get("absent"), Err(SecretError::NotFound { .. })));
}

#[cfg(unix)]
#[test]
fn kubernetes_style_symlinks_inside_the_directory_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("..data")).unwrap();
    std::fs::write(dir.path().join("..data/token"), "k8s-token\n").unwrap();
    std::os::unix::fs::symlink("..data/token", dir.path().join("token")).unwrap();
    assert_eq!(
        DirSecrets::new(dir.path())
            .get("token")
            .unwrap()
            .expose_secret(),
        "k8s-token"
    );
}

#[test]
fn the_chain_falls_through_not_found_but_stops_on_other_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("FROM_DIR"), "dir-value").unwrap();
    std::fs::write(dir.path().join("EMPTY"), "").unwrap();
    let chain = ChainSecrets::new().with(DirSecrets::new(dir.path())).with(
        EnvSecrets::new(Env::fixed([
            ("WARDEN_SECRET_FROM_ENV", "env-value"),
            ("WARDEN_SECRET_EMPTY", "fallback"),
        ]))
        .with_prefix("WARDEN_SECRET_"),
    );
    assert_eq!(chain.get("FROM_DIR").unwrap().expose_secret(), "dir-value");
    assert_eq!(chain.get("FROM_ENV").unwrap().expose_secret(), "env-value");
    assert!(
        matches!(chain.get("EMPTY"), Err(SecretError::Empty { .. })),
        "an error in the first provider is not masked"
    );
    assert!(matches!(
        chain.get("NONE"),
        Err(SecretError::NotFound { .. })
    ));
    assert!(matches!(
        chain.get("../x"),
        Err(SecretError::InvalidName { .. })
    ));
}
