//! Engine tests against real stores (SQLite and PostgreSQL): the in-process API, running,
//! retries, timeouts, rescue after a lost lease, graceful shutdown and cron catch-up.

mod controls;
mod cron;
mod leases;
mod metrics;
mod multi_process;
mod occurrence_instant;
mod owners;
mod prefetch;
mod queues;
mod running;
mod scheduling;
mod support;
