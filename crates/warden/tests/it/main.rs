//! End-to-end tests of the `warden` binary, run as a real process.

mod api;
mod bench;
mod check;
mod cli;
mod cron;
mod http_jobs;
mod now;
mod secret;
mod serve;
mod support;
