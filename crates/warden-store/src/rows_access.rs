//! Decoding principals, API keys and audit events, shared by both backends.

use warden_core::{PrincipalId, Role};

use crate::{
    StoreError,
    convert::{from_micros, opt_from_micros},
    model::{ApiKeyRecord, AuditEvent, AuditRecord, Limits, PrincipalRecord},
    rows::Cols,
};

type Result<T> = std::result::Result<T, StoreError>;

/// A principal from columns aliased `p_*` (so it can share a row with a key).
pub(crate) fn principal_from_row(r: &impl Cols) -> Result<PrincipalRecord> {
    let limits: Limits = serde_json::from_str(&r.text("p_limits")?)
        .map_err(|e| StoreError::Corrupt(format!("principal limits: {e}")))?;
    Ok(PrincipalRecord {
        id: PrincipalId::parse(&r.text("p_id")?)?,
        disabled: r.flag("p_disabled")?,
        limits,
        created_at: from_micros(r.int("p_created_at")?)?,
        updated_at: from_micros(r.int("p_updated_at")?)?,
    })
}

pub(crate) fn limits_json(limits: &Limits) -> String {
    serde_json::to_string(limits).expect("limits serialise")
}

pub(crate) fn api_key_from_row(r: &impl Cols) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.uuid("id")?,
        principal_id: PrincipalId::parse(&r.text("principal_id")?)?,
        name: r.text("name")?,
        role: Role::parse(&r.text("role")?)?,
        prefix: r.text("prefix")?,
        hash: r.text("hash")?,
        created_at: from_micros(r.int("created_at")?)?,
        expires_at: opt_from_micros(r.opt_int("expires_at")?)?,
        revoked_at: opt_from_micros(r.opt_int("revoked_at")?)?,
        last_used_at: opt_from_micros(r.opt_int("last_used_at")?)?,
        rotated_from: r.opt_uuid("rotated_from")?,
    })
}

pub(crate) fn audit_from_row(r: &impl Cols) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: r.int("id")?,
        record: AuditRecord {
            at: from_micros(r.int("at")?)?,
            principal_id: r
                .opt_text("principal_id")?
                .as_deref()
                .map(PrincipalId::parse)
                .transpose()?,
            key_id: r.opt_text("key_id")?,
            action: r.text("action")?.parse()?,
            target: r.opt_text("target")?,
            outcome: r.text("outcome")?.parse()?,
            client_ip: r.opt_text("client_ip")?,
            user_agent: r.opt_text("user_agent")?,
            request_id: r.opt_text("request_id")?,
            client_request_id: r.opt_text("client_request_id")?,
            detail: r.opt_text("detail")?,
        },
    })
}
