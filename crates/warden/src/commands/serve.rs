//! `warden serve`: run the engine and the HTTP server until SIGTERM or Ctrl-C.

use crate::{
    app::{Application, shutdown_signal},
    cli::ServeArgs,
};

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let app = Application::build(args).await?;
    app.run_until_stopped(shutdown_signal()).await
}
