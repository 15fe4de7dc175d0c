//! Integration tests for warden-security: one binary, one module per area.

mod oidc;
mod oidc_refusals;
mod props;
mod support;
