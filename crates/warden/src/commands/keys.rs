//! `warden keys create|list|revoke|rotate`: API keys, directly on the database, so an
//! operator can bootstrap the first admin key without a running server. Each change is
//! recorded in the audit trail as made by the `cli` principal.

use anyhow::Context;
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;
use warden_api::keys::{IssuedKey, issue_key, parse_duration, rotate_key};
use warden_core::{AuditAction, AuditOutcome, PrincipalId, Role};
use warden_store::{AccessStore, AnyStore, AuditContext};

use crate::{
    cli::{KeyIdArgs, KeysCommand, KeysCreateArgs, KeysListArgs, KeysRotateArgs, StoreArgs},
    commands::migrate::open_migrated,
    secret,
};

/// Who the CLI's changes are attributed to in the audit trail.
fn cli_actor() -> AuditContext {
    AuditContext {
        principal_id: Some(PrincipalId::parse("cli").expect("`cli` is a valid principal id")),
        user_agent: Some(format!("warden-cli/{}", env!("CARGO_PKG_VERSION"))),
        ..Default::default()
    }
}

/// The store and the server secret's hasher, checked against the database: a key made
/// with another secret than the server's would be refused by the server.
async fn open(store: &StoreArgs) -> anyhow::Result<(AnyStore, warden_security::apikey::KeyHasher)> {
    let env = env_secret();
    // On PostgreSQL the server runs elsewhere: a secret file made here, in whatever
    // directory the command runs from, would not be the server's.
    if store.database_url.is_some() && env.is_none() && store.data_dir.is_none() {
        anyhow::bail!(
            "on PostgreSQL this command needs the server's secret: set WARDEN_SECRET to the value the server uses, or give --data-dir the directory holding the server's server.secret"
        );
    }
    let (hasher, source) = secret::load(&store.data_dir(), env)?;
    let opened = open_migrated(store).await?;
    secret::verify(&opened, &hasher, &source).await?;
    Ok((opened, hasher))
}

/// `WARDEN_SECRET` from the environment, if set.
pub(crate) fn env_secret() -> Option<SecretString> {
    std::env::var("WARDEN_SECRET").ok().map(SecretString::from)
}

fn print_issued(key: &IssuedKey, json: bool) {
    let r = &key.record;
    let expires = r.expires_at.map_or("never".to_owned(), |t| t.to_string());
    if json {
        let v = json!({
            "key": key.secret.expose_secret(), "id": r.id, "name": r.name,
            "principal": r.principal_id, "role": r.role, "expiresAt": r.expires_at,
        });
        println!("{v}");
    } else {
        println!("key:       {}", key.secret.expose_secret());
        println!("id:        {}", r.id);
        println!("name:      {}", r.name);
        println!("principal: {}", r.principal_id);
        println!("role:      {}", r.role);
        println!("expires:   {expires}");
        println!(
            "Store the key now: it is not shown again. Send it as `Authorization: Bearer KEY`."
        );
    }
}

async fn create(a: KeysCreateArgs) -> anyhow::Result<()> {
    let role = Role::parse(&a.role)?;
    let principal = PrincipalId::parse_for_key(a.user.as_deref().unwrap_or(&a.name))
        .context("invalid `--user` (or `--name`, used when `--user` is not given)")?;
    let expires = a
        .expires
        .as_deref()
        .map(|e| parse_duration("expires", e))
        .transpose()?;
    let (store, hasher) = open(&a.store).await?;
    let key = issue_key(
        &store,
        &hasher,
        &a.name,
        role,
        &principal,
        expires,
        Some(&cli_actor()),
    )
    .await?;
    print_issued(&key, a.json);
    Ok(())
}

async fn list(a: KeysListArgs) -> anyhow::Result<()> {
    let store = open_migrated(&a.store).await?;
    let keys = store.api_key_list(a.user).await?;
    if a.json {
        let v: Vec<_> = keys.iter().map(warden_api::views::api_key).collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let now = Timestamp::now();
    let rows = keys.iter().map(|k| {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if !k.is_live(now) {
            "expired"
        } else {
            "active"
        };
        let used = k.last_used_at.map_or("never".to_owned(), |t| t.to_string());
        vec![
            k.id.to_string(),
            k.prefix.clone(),
            k.name.clone(),
            k.principal_id.to_string(),
            k.role.as_str().to_owned(),
            status.to_owned(),
            used,
        ]
    });
    let header = [
        "ID",
        "PREFIX",
        "NAME",
        "PRINCIPAL",
        "ROLE",
        "STATUS",
        "LAST USED",
    ];
    print!("{}", table(&header, rows.collect()));
    Ok(())
}

/// Lays rows out in columns two spaces apart, each as wide as its longest cell (names,
/// principals and roles have no fixed length, so fixed widths would misalign them).
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn key_id(s: &str) -> anyhow::Result<Uuid> {
    s.parse().with_context(|| {
        format!("invalid key id {s:?}: expected the UUID shown by `warden keys list`")
    })
}

async fn revoke(a: KeyIdArgs) -> anyhow::Result<()> {
    let id = key_id(&a.id)?;
    let store = open_migrated(&a.store).await?;
    let now = Timestamp::now();
    let record = cli_actor().record(
        now,
        AuditAction::KeyRevoke,
        Some(id.to_string()),
        AuditOutcome::Ok,
    );
    store
        .api_key_revoke(id, now, vec![record])
        .await
        .with_context(|| {
            format!("could not revoke key {id} (is the id right? see `warden keys list`)")
        })?;
    println!("key {id} revoked");
    Ok(())
}

async fn rotate(a: KeysRotateArgs) -> anyhow::Result<()> {
    let id = key_id(&a.id)?;
    let overlap = parse_duration("overlap", &a.overlap)?;
    let (store, hasher) = open(&a.store).await?;
    let key = rotate_key(&store, &hasher, id, overlap, Some(&cli_actor()))
        .await
        .with_context(|| format!("could not rotate key {id}"))?;
    print_issued(&key, a.json);
    if !a.json {
        println!("The old key {id} keeps working for {}.", a.overlap);
    }
    Ok(())
}

pub(crate) async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create(a) => create(a).await,
        KeysCommand::List(a) => list(a).await,
        KeysCommand::Revoke(a) => revoke(a).await,
        KeysCommand::Rotate(a) => rotate(a).await,
    }
}
