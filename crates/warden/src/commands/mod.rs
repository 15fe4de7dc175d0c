//! One module per subcommand.

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod client;
pub(crate) mod cron_next;
pub(crate) mod keys;
pub(crate) mod migrate;
pub(crate) mod serve;
pub(crate) mod status;
