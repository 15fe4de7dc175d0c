//! Authentication: who is calling. Deny by default — this layer covers every route but
//! the explicit public list, and a request without a valid credential never reaches a
//! handler.
//!
//! # Credentials, in the order they are tried
//! 1. `x-internal-api-key`: `INTERNAL_API_KEY`, the `service` role (seed 003). Refused
//!    when the request comes from a browser (`Origin`, `Cookie` or `Sec-Fetch-*` headers).
//! 2. `x-job-api-key: KEY` or `Authorization: Bearer KEY`:
//!    - `JOB_SCHEDULER_API_KEY` (admin), compared in constant time;
//!    - a stored key (`wdn_…`): its HMAC is looked up; it must be neither revoked nor
//!      expired and its principal not disabled;
//!    - otherwise, with OIDC configured, a bearer JWT.
//!
//! A failure answers 401 with `WWW-Authenticate` and one generic message (which check
//! failed is not revealed to the caller), and is recorded in the audit trail (the first
//! few per address and minute in full, the rest counted: see [`crate::refusals`]) with the
//! reason, and with the principal and key id when the credential was genuine but may not
//! be used (revoked, expired, disabled). Credentials never reach a log or the audit trail.
//! Each refusal, and each 403 answered behind this layer, is counted in
//! `warden_auth_failures_total` by reason (see [`crate::metrics`]).
//! When a credential cannot be checked (the database or the identity provider is
//! unreachable) the answer is 503: fail closed, never open.
//!
//! The environment keys' principals (`admin`, `service`) obey `disabled` like any other.
//! An OIDC token's principal is `oidc:ISSUER#SUBJECT` ([`PrincipalId::oidc`]), a form no
//! key principal can take, so identities from different issuers never meet.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jiff::{SignedDuration, Timestamp};
use warden_core::{AuditAction, AuditOutcome};
use warden_core::{Credential, Permission, Principal, PrincipalId, Role};
use warden_engine::{Actor, InternalTypes};
use warden_security::{
    apikey::KeyHasher,
    envkey::StaticKey,
    oidc::{AuthError, OidcVerifier},
};
use warden_store::{AuditContext, AuditRecord, Limits, Store, StoreError};

use crate::error::ErrorCode;
use crate::{
    AppState,
    error::ApiError,
    metrics::AuthFailure,
    ratelimit::{ClientIp, Limiters},
    refusals::{self, RefusalLog},
    request_id::{current_client_request_id, current_request_id},
};

/// What the server accepts as credentials.
pub struct AuthConfig {
    /// Hashes presented API keys for lookup (the server secret).
    pub hasher: KeyHasher,
    /// `JOB_SCHEDULER_API_KEY`: admin.
    pub admin_key: Option<StaticKey>,
    /// `INTERNAL_API_KEY`: the service role.
    pub internal_key: Option<StaticKey>,
    pub oidc: Option<OidcVerifier>,
}

/// An authenticated request: the principal, its limits, and where it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub limits: Limits,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Caller {
    /// Refuses (403) unless the caller's role grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.principal.can(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the `{}` role may not do this; ask an admin for a key with a role that may",
                self.principal.role
            )))
        }
    }

    pub fn audit_context(&self) -> AuditContext {
        AuditContext {
            principal_id: Some(self.principal.id.clone()),
            key_id: self.principal.credential.key_id().map(str::to_owned),
            client_ip: self.client_ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: Some(current_request_id()),
            client_request_id: current_client_request_id(),
        }
    }

    /// The engine's view of this caller: its scope, limits and audit context. No caller
    /// creates internal job types; an admin may trigger an existing schedule of one.
    pub fn actor(&self) -> Actor {
        let internal = if self.principal.role == Role::Admin {
            InternalTypes::Trigger
        } else {
            InternalTypes::Refused
        };
        Actor::principal(
            &self.principal.id,
            self.principal.scope(),
            self.limits.clone(),
            self.audit_context(),
        )
        .with_internal(internal)
    }
}

/// Where a request came from, for the audit trail.
pub(crate) fn origin(request: &Request) -> (Option<String>, Option<String>) {
    let ip = match request.extensions().get::<ClientIp>() {
        Some(ClientIp(ip)) => Some(ip.to_string()),
        None => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
    };
    let ua = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect());
    (ip, ua)
}

/// Why a credential was refused (recorded in the audit trail, never sent to the client).
enum Refusal {
    Missing,
    Invalid(&'static str),
    /// A genuine credential that may not be used now (revoked, expired, disabled): the
    /// audit record names whose it is.
    Known {
        why: Unusable,
        principal: PrincipalId,
        key_id: Option<String>,
    },
    Browser,
    NoRole,
    /// The credential could not be checked (the database or the identity provider is
    /// unreachable): refused, with 503 rather than 401.
    Unavailable(&'static str),
}

/// Why a genuine credential may not be used now.
#[derive(Debug, Clone, Copy)]
enum Unusable {
    Revoked,
    Expired,
    Disabled,
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Missing => "no credentials",
            Refusal::Invalid(why) | Refusal::Unavailable(why) => why,
            Refusal::Known { why, .. } => match why {
                Unusable::Revoked => "key revoked",
                Unusable::Expired => "key expired",
                Unusable::Disabled => "principal is disabled",
            },
            Refusal::Browser => "service key used from a browser",
            Refusal::NoRole => "token carries no warden role",
        }
    }

    /// The refusal's label in `warden_auth_failures_total`.
    fn metric(&self) -> AuthFailure {
        match self {
            Refusal::Missing => AuthFailure::Missing,
            Refusal::Invalid(_) => AuthFailure::Invalid,
            Refusal::Known { why, .. } => match why {
                Unusable::Revoked => AuthFailure::Revoked,
                Unusable::Expired => AuthFailure::Expired,
                Unusable::Disabled => AuthFailure::Disabled,
            },
            Refusal::Browser => AuthFailure::Browser,
            Refusal::NoRole => AuthFailure::NoRole,
            Refusal::Unavailable(_) => AuthFailure::Unavailable,
        }
    }

    fn known(why: Unusable, principal: &PrincipalId, key_id: Option<String>) -> Self {
        Refusal::Known {
            why,
            principal: principal.clone(),
            key_id,
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn from_browser(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ORIGIN)
        || headers.contains_key(header::COOKIE)
        || headers.keys().any(|k| k.as_str().starts_with("sec-fetch-"))
}

/// Why an `Authorization` header holds no bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotBearer {
    /// The value is not visible ASCII.
    NotText,
    /// Another scheme (`Basic …`), or no credential after the scheme.
    OtherScheme,
}

impl NotBearer {
    /// Why, for a record (never the value).
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::NotText => "the Authorization header is not text",
            Self::OtherScheme => "the Authorization header is not `Bearer <token>`",
        }
    }
}

/// The credential of `Authorization: Bearer X` (the scheme is case-insensitive, RFC 7235),
/// trimmed; `None` without an `Authorization` header. The one parser of the header: the
/// API's keys, the `/metrics` token and the `/cron/run` tokens all come through it.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<Result<&str, NotBearer>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = match value.to_str() {
        Err(_) => Err(NotBearer::NotText),
        Ok(v) => match v.trim().split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Ok(rest.trim()),
            _ => Err(NotBearer::OtherScheme),
        },
    };
    Some(parsed)
}

/// An environment key's principal, unless it has been disabled (incident control applies
/// to the bootstrap keys too).
async fn env_caller<S: Store>(
    state: &AppState<S>,
    id: &str,
    role: Role,
    key: &StaticKey,
) -> Result<(Principal, Limits), Refusal> {
    let principal = env_principal(id, role, key);
    let limits = match state.store.principal_get(id).await {
        Ok(p) if p.disabled => {
            return Err(Refusal::known(
                Unusable::Disabled,
                &principal.id,
                Some(key.var_name().into()),
            ));
        }
        Ok(p) => p.limits,
        Err(StoreError::NotFound) => Limits::default(),
        Err(_) => return Err(Refusal::Unavailable("principal lookup failed")),
    };
    Ok((principal, limits))
}

fn env_principal(id: &str, role: Role, key: &StaticKey) -> Principal {
    Principal {
        id: PrincipalId::parse(id).expect("static principal id"),
        role,
        credential: Credential::EnvKey {
            name: key.var_name(),
        },
    }
}

/// The most privileged warden role among a token's roles.
fn oidc_role(roles: &[String]) -> Option<Role> {
    const ORDER: [Role; 5] = [
        Role::Admin,
        Role::Service,
        Role::Scheduler,
        Role::Executor,
        Role::Viewer,
    ];
    let parsed: Vec<Role> = roles.iter().filter_map(|r| Role::parse(r).ok()).collect();
    ORDER.into_iter().find(|r| parsed.contains(r))
}

async fn authenticate<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<(Principal, Limits), Refusal> {
    let auth = &state.auth;
    if let Some(presented) = header_str(headers, "x-internal-api-key") {
        let key = auth
            .internal_key
            .as_ref()
            .ok_or(Refusal::Invalid("INTERNAL_API_KEY is not configured"))?;
        if !key.matches(presented) {
            return Err(Refusal::Invalid("wrong internal key"));
        }
        if from_browser(headers) {
            return Err(Refusal::Browser);
        }
        return env_caller(state, "service", Role::Service, key).await;
    }
    let presented = match (header_str(headers, "x-job-api-key"), bearer(headers)) {
        (Some(k), _) => k,
        (None, Some(Ok(k))) => k,
        (None, Some(Err(_))) => {
            return Err(Refusal::Invalid("Authorization is not a Bearer credential"));
        }
        (None, None) => return Err(Refusal::Missing),
    };
    if let Some(key) = &auth.admin_key
        && key.matches(presented)
    {
        return env_caller(state, "admin", Role::Admin, key).await;
    }
    if warden_security::apikey::looks_like_api_key(presented) {
        return stored_key(state, presented).await;
    }
    if let Some(oidc) = &auth.oidc
        && presented.matches('.').count() == 2
    {
        let token = oidc.verify(presented).await.map_err(|e| match e {
            AuthError::KeySourceUnavailable => {
                Refusal::Unavailable("identity provider keys unavailable")
            }
            _ => Refusal::Invalid("bearer token refused"),
        })?;
        let role = oidc_role(&token.roles).ok_or(Refusal::NoRole)?;
        // Named by issuer and subject, apart from every key principal: `sub=alice`
        // never reaches the jobs of the key principal `alice`.
        let id = PrincipalId::oidc(&token.issuer, &token.subject)
            .map_err(|_| Refusal::Invalid("token subject is not a valid principal id"))?;
        let limits = match state.store.principal_get(id.as_str()).await {
            Ok(p) if p.disabled => {
                return Err(Refusal::known(Unusable::Disabled, &id, None));
            }
            Ok(p) => p.limits,
            Err(StoreError::NotFound) => Limits::default(),
            // Fail closed: the principal may be disabled or limited.
            Err(_) => return Err(Refusal::Unavailable("principal lookup failed")),
        };
        let principal = Principal {
            id,
            role,
            credential: Credential::Oidc {
                issuer: token.issuer,
            },
        };
        return Ok((principal, limits));
    }
    Err(Refusal::Invalid("unknown key"))
}

async fn stored_key<S: Store>(
    state: &AppState<S>,
    presented: &str,
) -> Result<(Principal, Limits), Refusal> {
    let hash = state.auth.hasher.hash(presented).to_hex();
    let found = state
        .store
        .api_key_find(&hash)
        .await
        .map_err(|_| Refusal::Unavailable("key lookup failed"))?
        .ok_or(Refusal::Invalid("unknown key"))?;
    let now = Timestamp::now();
    let whose = |why| Refusal::known(why, &found.key.principal_id, Some(found.key.id.to_string()));
    if found.key.revoked_at.is_some() {
        return Err(whose(Unusable::Revoked));
    }
    if !found.key.is_live(now) {
        return Err(whose(Unusable::Expired));
    }
    if found.principal.disabled {
        return Err(whose(Unusable::Disabled));
    }
    // Record use at most once a minute per key, off the request's path.
    let stale = found
        .key
        .last_used_at
        .is_none_or(|t| now.duration_since(t) > SignedDuration::from_secs(60));
    if stale {
        let store = state.store.clone();
        let id = found.key.id;
        tokio::spawn(async move {
            if let Err(e) = store.api_key_touch_many(vec![id], now).await {
                tracing::warn!(error = %e, "recording a key's last use failed");
            }
        });
    }
    // A key made for an `oidc:` principal (before such ids were refused) would act as a
    // token holder: fail closed.
    let id = PrincipalId::parse_for_key(found.key.principal_id.as_str())
        .map_err(|_| Refusal::Invalid("stored principal id is invalid for a key"))?;
    let principal = Principal {
        id,
        role: found.key.role,
        credential: Credential::ApiKey {
            key_id: found.key.id.to_string(),
        },
    };
    Ok((principal, found.principal.limits))
}

/// A request path as the audit trail keeps it: at most 256 characters, so anonymous
/// callers cannot fill the trail with huge paths.
fn truncated_path(path: &str) -> String {
    path.chars().take(256).collect()
}

/// The authentication middleware of every non-public route.
pub(crate) async fn require_caller<S: Store>(
    State(state): State<AppState<S>>,
    mut request: Request,
    next: Next,
) -> Response {
    let (client_ip, user_agent) = origin(&request);
    let (principal, limits) = match authenticate(&state, request.headers()).await {
        Ok(found) => found,
        Err(refusal) => {
            refusal.metric().count();
            let (principal_id, key_id) = match &refusal {
                Refusal::Known {
                    principal, key_id, ..
                } => (Some(principal.clone()), key_id.clone()),
                _ => (None, None),
            };
            let record = AuditRecord {
                at: Timestamp::now(),
                principal_id,
                key_id,
                action: AuditAction::AuthFailure,
                target: Some(truncated_path(request.uri().path())),
                outcome: AuditOutcome::Unauthenticated,
                client_ip,
                user_agent,
                request_id: Some(current_request_id()),
                client_request_id: current_client_request_id(),
                detail: Some(refusal.reason().into()),
            };
            // The first refusals of an address in a window in full, the rest counted.
            let log = request.extensions().get::<Arc<RefusalLog>>();
            refusals::record_audit(&state, log, record).await;
            if let Refusal::Unavailable(_) = refusal {
                return ApiError::new(
                    ErrorCode::Unavailable,
                    "credentials cannot be checked right now; retry shortly",
                )
                .into_response();
            }
            let message = match refusal {
                Refusal::Missing => {
                    "authentication required: send `Authorization: Bearer KEY` or `x-job-api-key: KEY`"
                }
                Refusal::Browser => "the internal key may not be used from a browser",
                _ => "invalid credentials",
            };
            return ApiError::unauthenticated(message).into_response();
        }
    };
    if let Some(limiters) = request.extensions().get::<Arc<Limiters>>()
        && let Err(e) = limiters.check_principal(principal.id.as_str())
    {
        return e.into_response();
    }
    let caller = Caller {
        principal,
        limits,
        client_ip,
        user_agent,
    };
    let service = caller.principal.role == Role::Service;
    // The service role acts across every principal: never from a browser, whatever the
    // credential (env key, stored key, OIDC token).
    if service && from_browser(request.headers()) {
        AuthFailure::Browser.count();
        let mut record = caller.audit_context().record(
            Timestamp::now(),
            AuditAction::AuthFailure,
            Some(truncated_path(request.uri().path())),
            AuditOutcome::Unauthenticated,
        );
        record.detail = Some(Refusal::Browser.reason().into());
        state.audit(vec![record]).await;
        return ApiError::unauthenticated("the service role may not be used from a browser")
            .into_response();
    }
    let (method, path) = (
        request.method().clone(),
        truncated_path(request.uri().path()),
    );
    request.extensions_mut().insert(Arc::new(caller.clone()));
    let response = next.run(request).await;
    // Refusals are recorded here, once for every route. The service role's writes are
    // audited with their changes; its reads and its failures are recorded here.
    let status = response.status();
    let entry = if status == StatusCode::FORBIDDEN {
        AuthFailure::Forbidden.count();
        Some((AuditAction::AuthzDenied, AuditOutcome::Denied))
    } else if status == StatusCode::NOT_FOUND {
        // Missing, or another principal's: the caller is not told which, the trail keeps
        // the attempt (probing other tenants' ids shows up here).
        Some((AuditAction::AuthzNotFound, AuditOutcome::NotFound))
    } else if service && !status.is_success() {
        Some((AuditAction::ServiceRequest, AuditOutcome::Failed))
    } else if service && method.is_safe() {
        Some((AuditAction::ServiceRead, AuditOutcome::Ok))
    } else {
        None
    };
    if let Some((action, outcome)) = entry {
        let mut record =
            caller
                .audit_context()
                .record(Timestamp::now(), action, Some(path), outcome);
        record.detail = Some(format!("{method} answered {}", status.as_u16()));
        state.audit(vec![record]).await;
    }
    response
}
