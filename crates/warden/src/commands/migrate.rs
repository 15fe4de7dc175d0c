//! `warden migrate`: apply pending migrations and exit.

use anyhow::Context;
use warden_store::{Store, StoreLocation};

use crate::cli::StoreArgs;

/// Opens the store the flags point at and migrates it.
pub(crate) async fn open_migrated(args: &StoreArgs) -> anyhow::Result<warden_store::AnyStore> {
    let location = StoreLocation::choose(args.database_url.as_deref(), args.data_dir())?;
    let store = location
        .open()
        .await
        .with_context(|| format!("could not open the database at {location}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("could not migrate the database at {location}"))?;
    tracing::info!(database = %location, "database migrated");
    Ok(store)
}

pub(crate) async fn run(args: StoreArgs) -> anyhow::Result<()> {
    open_migrated(&args).await?;
    println!("migrations applied");
    Ok(())
}
