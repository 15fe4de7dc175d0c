//! Who may do what: roles, the permissions each grants, and the principal a request acts as.
//!
//! # Model
//! A request is made by a [`Principal`] (a user or service, by id) holding one [`Role`].
//! Each route states the [`Permission`] it needs; [`Role::grants`] is the one table that
//! says which role has which permission. Everything not in the table is refused (deny by
//! default). Ownership is a second, separate check: a non-admin principal reaches only
//! the objects it owns ([`Principal::scope`]), and the store applies that scope in its
//! queries.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ParseError, error::excerpt};

crate::vocabulary! {
    /// A role: a fixed bundle of permissions.
    pub enum Role: "role", "a role" {
        /// Everything, across every principal.
        Admin = "admin",
        /// Creates, reads, updates and cancels its own jobs and schedules.
        Scheduler = "scheduler",
        /// Claims and completes jobs only (remote workers).
        Executor = "executor",
        /// Reads its own objects; sensitive payload fields are redacted.
        Viewer = "viewer",
        /// Background work across users (seed 003): reads and writes every principal's jobs
        /// and schedules, never keys or principals; refused from browsers; always audited.
        Service = "service",
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    JobsRead,
    JobsWrite,
    SchedulesRead,
    SchedulesWrite,
    QueuesRead,
    QueuesWrite,
    /// Claim and complete jobs (remote workers).
    JobsExecute,
    KeysRead,
    KeysWrite,
    PrincipalsRead,
    PrincipalsWrite,
    AuditRead,
    /// The scheduler's health and the `/cron/run` records (they span every owner).
    SchedulerRead,
}

impl Role {
    /// The permission table. Deny by default: a pair not listed here is refused.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Scheduler => matches!(
                permission,
                JobsRead | JobsWrite | SchedulesRead | SchedulesWrite | QueuesRead
            ),
            Role::Executor => matches!(permission, JobsExecute),
            Role::Viewer => matches!(
                permission,
                JobsRead | SchedulesRead | QueuesRead | SchedulerRead
            ),
            Role::Service => matches!(
                permission,
                JobsRead | JobsWrite | SchedulesRead | SchedulesWrite | QueuesRead
            ),
        }
    }

    /// Whether this role reaches every principal's objects (otherwise only its own).
    pub fn sees_all(self) -> bool {
        matches!(self, Role::Admin | Role::Service)
    }

    /// Whether payloads shown to this role have their sensitive fields redacted.
    pub fn redacts_payloads(self) -> bool {
        matches!(self, Role::Viewer)
    }

    /// Parses a role as a person types it: case and surrounding spaces do not matter.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        value.trim().to_ascii_lowercase().parse()
    }
}

/// A principal's id: the user or service a request acts for, and the owner of objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PrincipalId(String);

impl PrincipalId {
    /// 1 to 200 characters, printable, no whitespace at either end (OIDC subjects can be
    /// long opaque strings, e-mail addresses or URLs, so the alphabet is broad).
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let expected = "1 to 200 printable characters without surrounding spaces";
        if value.is_empty() || value.len() > 200 {
            return Err(ParseError::new(
                "principal",
                format!("is {} characters long", value.len()),
                expected,
            ));
        }
        if value.chars().any(char::is_control) || value.trim() != value {
            return Err(ParseError::new(
                "principal",
                format!(
                    "{} has control characters or surrounding spaces",
                    excerpt(value)
                ),
                expected,
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The principal of an OIDC token: `oidc:ISSUER#SUBJECT`. Keys cannot be issued to ids
    /// of this form ([`Self::parse_for_key`]), so a token's subject never reaches the
    /// objects of a key principal of the same name, and two issuers' subjects stay apart
    /// (an issuer URL has no `#`, so the split is unambiguous).
    ///
    /// # Errors
    /// When the whole id does not [`parse`](Self::parse) (too long, control characters).
    pub fn oidc(issuer: &str, subject: &str) -> Result<Self, ParseError> {
        Self::parse(&format!("{OIDC_PREFIX}{issuer}#{subject}"))
    }

    /// A principal that API keys may be issued to: any [`parse`](Self::parse)able id but
    /// those of OIDC principals (`oidc:…`, in any case).
    ///
    /// # Errors
    /// As [`parse`](Self::parse), and for an id starting with `oidc:`.
    pub fn parse_for_key(value: &str) -> Result<Self, ParseError> {
        let id = Self::parse(value)?;
        if id.is_oidc() {
            return Err(ParseError::new(
                "principal",
                format!("{} starts with `{OIDC_PREFIX}`", excerpt(value)),
                "another name: ids starting with `oidc:` belong to OIDC token holders, who need no key",
            ));
        }
        Ok(id)
    }

    /// Whether this is the id of an OIDC token's holder (see [`Self::oidc`]).
    pub fn is_oidc(&self) -> bool {
        self.0
            .get(..OIDC_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(OIDC_PREFIX))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The prefix of the principals of OIDC tokens; no key principal has it.
const OIDC_PREFIX: &str = "oidc:";

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PrincipalId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

/// Compares with a plain id, as tests and checks of well-known ids (`system`) do.
impl PartialEq<str> for PrincipalId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PrincipalId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<PrincipalId> for String {
    fn from(v: PrincipalId) -> String {
        v.0
    }
}

/// How a request proved who it is (recorded in the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A stored API key, by its id (never the key).
    ApiKey { key_id: String },
    /// `JOB_SCHEDULER_API_KEY` or `INTERNAL_API_KEY` from the environment.
    EnvKey { name: &'static str },
    /// An OIDC bearer token, by its issuer.
    Oidc { issuer: String },
}

impl Credential {
    /// The key id to record, if any.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Credential::ApiKey { key_id } => Some(key_id),
            Credential::EnvKey { name } => Some(name),
            Credential::Oidc { .. } => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: PrincipalId,
    pub role: Role,
    pub credential: Credential,
}

/// Which owners' objects a query may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every owner's (admin, service, and the engine itself).
    All,
    /// Only this owner's.
    Owner(PrincipalId),
}

impl Scope {
    /// The owner to filter on, `None` for every owner.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Owner(o) => Some(o.as_str()),
        }
    }

    /// Whether an object owned by `owner` is in scope.
    pub fn allows(&self, owner: &str) -> bool {
        self.owner().is_none_or(|o| o == owner)
    }
}

impl Principal {
    pub fn can(&self, permission: Permission) -> bool {
        self.role.grants(permission)
    }

    /// The objects this principal reaches.
    pub fn scope(&self) -> Scope {
        if self.role.sees_all() {
            Scope::All
        } else {
            Scope::Owner(self.id.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_manages_keys_principals_and_audit() {
        for p in [
            Permission::KeysRead,
            Permission::KeysWrite,
            Permission::PrincipalsRead,
            Permission::PrincipalsWrite,
            Permission::AuditRead,
            Permission::QueuesWrite,
        ] {
            let holders: Vec<Role> = Role::ALL.into_iter().filter(|r| r.grants(p)).collect();
            assert_eq!(holders, [Role::Admin], "{p:?}");
        }
    }

    #[test]
    fn viewers_only_read_and_executors_only_execute() {
        use Permission::*;
        for p in [JobsWrite, SchedulesWrite, JobsExecute] {
            assert!(!Role::Viewer.grants(p), "{p:?}");
        }
        for p in [
            JobsRead,
            JobsWrite,
            SchedulesRead,
            SchedulesWrite,
            QueuesRead,
        ] {
            assert!(!Role::Executor.grants(p), "{p:?}");
        }
        assert!(Role::Executor.grants(JobsExecute));
        assert!(!Role::Scheduler.grants(JobsExecute));
    }

    #[test]
    fn roles_parse_and_scopes_follow_them() {
        assert_eq!(Role::parse(" Scheduler ").unwrap(), Role::Scheduler);
        let err = Role::parse("root").unwrap_err().to_string();
        assert!(
            err.contains("`role`") && err.contains("admin, scheduler"),
            "{err}"
        );
        let alice = Principal {
            id: PrincipalId::parse("alice").unwrap(),
            role: Role::Scheduler,
            credential: Credential::EnvKey { name: "test" },
        };
        assert_eq!(
            alice.scope(),
            Scope::Owner(PrincipalId::parse("alice").unwrap())
        );
        assert!(alice.scope().allows("alice") && !alice.scope().allows("bob"));
        let service = Principal {
            role: Role::Service,
            ..alice
        };
        assert_eq!(service.scope(), Scope::All);
        assert!(PrincipalId::parse(" x").is_err() && PrincipalId::parse("").is_err());
    }

    #[test]
    fn oidc_principals_are_a_namespace_keys_cannot_enter() {
        let carol = PrincipalId::oidc("https://idp.example", "carol").unwrap();
        assert_eq!(carol.as_str(), "oidc:https://idp.example#carol");
        assert!(carol.is_oidc());
        assert_ne!(
            carol,
            PrincipalId::oidc("https://other.example", "carol").unwrap()
        );
        for taken in ["oidc:https://idp.example#carol", "OIDC:x", "oidc:"] {
            let err = PrincipalId::parse_for_key(taken).unwrap_err().to_string();
            assert!(
                err.contains("`principal`") && err.contains("oidc:"),
                "{err}"
            );
        }
        assert!(!PrincipalId::parse_for_key("carol").unwrap().is_oidc());
        assert!(PrincipalId::oidc("https://idp.example", &"x".repeat(200)).is_err());
    }
}
