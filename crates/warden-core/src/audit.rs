//! The audit trail's words: what was done ([`AuditAction`]) and how it ended ([`AuditOutcome`]).
//!
//! Stored in `audit_log.action`/`outcome`, filtered on by `GET /api/v1/audit?action=…`
//! and listed in the README; a new action is a new variant here, nowhere else.

crate::vocabulary! {
    /// What an audit record says was done.
    pub enum AuditAction: "action", "an audit action" {
        /// Jobs created (one record per job).
        JobCreate = "job.create",
        JobCancel = "job.cancel",
        JobRetry = "job.retry",
        ScheduleCreate = "schedule.create",
        ScheduleUpdate = "schedule.update",
        SchedulePause = "schedule.pause",
        ScheduleResume = "schedule.resume",
        ScheduleDelete = "schedule.delete",
        /// A schedule run now on request (the target is the job it created).
        ScheduleTrigger = "schedule.trigger",
        /// A schedule's owner may not run it now; recorded once per change of reason.
        ScheduleBlocked = "schedule.blocked",
        QueuePause = "queue.pause",
        QueueResume = "queue.resume",
        KeyCreate = "key.create",
        KeyRotate = "key.rotate",
        KeyRevoke = "key.revoke",
        PrincipalUpdate = "principal.update",
        /// A request whose credentials were missing or refused.
        AuthFailure = "auth.failure",
        /// The count of one address's further authentication failures in one window.
        AuthFailureRepeated = "auth.failure.repeated",
        /// A request refused by the role or limits of an authenticated caller (403).
        AuthzDenied = "authz.denied",
        /// A request for an object that does not exist or is another principal's (404).
        AuthzNotFound = "authz.not_found",
        /// A read by the `service` role (its writes are audited with their changes).
        ServiceRead = "service.read",
        /// A request by the `service` role that failed.
        ServiceRequest = "service.request",
        /// An HTTP job's call refused by the egress guard.
        EgressRefused = "egress.refused",
    }
}

crate::vocabulary! {
    /// How an audited action ended.
    pub enum AuditOutcome: "outcome", "an audit outcome" {
        Ok = "ok",
        /// Refused by a role, a limit or a guard.
        Denied = "denied",
        /// The object does not exist or is out of the caller's scope.
        NotFound = "not_found",
        /// Credentials missing or refused.
        Unauthenticated = "unauthenticated",
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CronRunOutcome, RunOutcome};

    /// The README lists the words users filter and alert on: every one of them, in
    /// backticks, so a word added here and not there (or renamed) fails.
    #[test]
    fn the_readme_lists_every_audit_run_and_cron_run_word() {
        let readme = include_str!("../../../README.md");
        let lists = [
            AuditAction::NAMES,
            AuditOutcome::NAMES,
            RunOutcome::NAMES,
            CronRunOutcome::NAMES,
        ];
        for word in lists.into_iter().flatten() {
            assert!(
                readme.contains(&format!("`{word}`")),
                "README.md does not mention `{word}`"
            );
        }
    }
}
