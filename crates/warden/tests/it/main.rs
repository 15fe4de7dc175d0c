//! End-to-end tests of the `warden` binary, run as a real process.

mod cli;
mod serve;
mod support;
