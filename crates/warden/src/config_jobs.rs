//! Jobs from a `jobs.yaml` file become schedules owned by the `config` principal.
//!
//! A sync compares the file with the stored `config` schedules by name: a new job adds a
//! schedule, a changed one is replaced (its ledger kept), one no longer in the file is
//! paused (its run history kept), an unchanged one is left alone (so its next fire time
//! and ledger are untouched). Renaming a job is a removal plus an addition. Each schedule
//! enqueues the job type `warden.http` with the payload `{"job": NAME}`: the definition —
//! URL, headers, `${VAR}` templates — stays in the file and is resolved at each run, so
//! no secret is ever stored. Every change is audited as made by `config`.

use std::{collections::HashMap, time::Duration};

use serde_json::json;
use warden_core::{PrincipalId, Scope, schedule::CatchUpWindow};
use warden_engine::{Actor, CronRequest, InternalTypes, JobRequest, Scheduler};
use warden_exec::{HttpJob, JobsFile};
use warden_store::{AuditContext, Limits, Page, Schedule, ScheduleSummary, Store};

/// The principal that owns schedules made from the jobs file.
pub(crate) const CONFIG_OWNER: &str = "config";

/// [`CONFIG_OWNER`] as a principal id.
fn config_owner() -> PrincipalId {
    PrincipalId::parse(CONFIG_OWNER).expect("`config` is a valid principal id")
}

/// The objects of [`CONFIG_OWNER`].
fn config_scope() -> Scope {
    Scope::Owner(config_owner())
}
/// The job type of a scheduled HTTP call.
pub(crate) const HTTP_JOB_TYPE: &str = "warden.http";
/// Added to a call's own timeout for the engine's: the HTTP client gives up first and
/// leaves a run record saying so.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

/// What a sync changed, by job name.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SyncReport {
    pub(crate) added: Vec<String>,
    pub(crate) changed: Vec<String>,
    pub(crate) disabled: Vec<String>,
    pub(crate) unchanged: usize,
    /// Ids of `warden.http` schedules owned by someone else than `config` (made through
    /// the API before it refused internal types), now paused.
    pub(crate) quarantined: Vec<String>,
}

/// The sync's actor: the only one, with the embedding program, that creates `warden.http`
/// schedules (an internal type: no API caller may).
fn config_actor() -> Actor {
    Actor::principal(
        &config_owner(),
        config_scope(),
        Limits::default(),
        AuditContext {
            principal_id: Some(config_owner()),
            user_agent: Some("warden serve --jobs".into()),
            ..AuditContext::default()
        },
    )
    .with_internal(InternalTypes::Create)
}

/// The schedule request a job of the file stands for.
fn request(job: &HttpJob) -> CronRequest {
    let cron = job.schedule();
    let mut r = CronRequest::new(job.name(), cron.expr(), HTTP_JOB_TYPE);
    r.timezone = cron.tz_name().to_owned();
    r.dst = cron.dst();
    r.job = JobRequest::new(
        HTTP_JOB_TYPE,
        json!({"job": job.name()}),
        job.queue().as_str(),
    )
    .priority(job.priority())
    .max_attempts(i64::from(job.max_attempts().get()))
    .timeout(job.timeout().as_duration() + TIMEOUT_MARGIN);
    r.overlap = job.overlap();
    r.missed = job.missed();
    r.catch_up = CatchUpWindow::default().as_duration();
    r.paused = !job.enabled();
    r
}

/// Whether the stored schedule already is what `r` asks for.
fn same(s: &Schedule, r: &CronRequest) -> bool {
    let t = &s.template;
    s.cron.expr() == r.cron
        && s.cron.tz_name() == r.timezone
        && s.cron.dst() == r.dst
        && t.kind.as_str() == r.job.job_type
        && t.queue.as_str() == r.job.queue
        && t.priority == r.job.priority
        && Some(i64::from(t.max_attempts.get())) == r.job.max_attempts
        && Some(t.timeout.as_millis()) == r.job.timeout_ms
        && t.payload.to_json() == r.job.data
        && s.overlap == r.overlap
        && s.missed == r.missed
        && s.paused == r.paused
}

/// Every schedule the `config` principal owns (as lists give them: without payloads).
async fn config_schedules<S: Store>(store: &S) -> anyhow::Result<Vec<ScheduleSummary>> {
    schedules_in(store, config_scope()).await
}

/// Every schedule in `scope`, page by page.
async fn schedules_in<S: Store>(store: &S, scope: Scope) -> anyhow::Result<Vec<ScheduleSummary>> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .schedule_list(Page { limit: 500, after }, scope.clone())
            .await?;
        let full = page.len() == 500;
        after = page.last().map(|s| s.id.as_uuid());
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Brings the `config` schedules in line with `file`.
pub(crate) async fn sync<S: Store>(
    scheduler: &Scheduler<S>,
    file: &JobsFile,
) -> anyhow::Result<SyncReport> {
    let actor = config_actor();
    let mut stored: HashMap<String, ScheduleSummary> = config_schedules(scheduler.store())
        .await?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut report = SyncReport::default();
    for job in file.jobs() {
        let r = request(job);
        match stored.remove(job.name()) {
            Some(s) => {
                // The payload is compared too, and lists do not carry it.
                let full = scheduler.store().schedule_get(s.id, config_scope()).await?;
                if same(&full, &r) {
                    report.unchanged += 1;
                } else {
                    scheduler.update_schedule_as(&actor, s.id, r).await?;
                    report.changed.push(job.name().to_owned());
                }
            }
            None => {
                scheduler.add_cron_as(&actor, r).await?;
                report.added.push(job.name().to_owned());
            }
        }
    }
    for (name, s) in stored {
        if !s.paused {
            scheduler.set_schedule_paused_as(&actor, s.id, true).await?;
            report.disabled.push(name);
        }
    }
    report.quarantined = quarantine_foreign_calls(scheduler).await?;
    report.added.sort();
    report.changed.sort();
    report.disabled.sort();
    Ok(report)
}

/// Pauses every `warden.http` schedule that `config` does not own. None can be made now
/// (internal types are refused to every API caller), but one made through the API before
/// that would still fire a call of the file, with its secrets, for whoever made it. The
/// pause is audited as made by `config`; an admin may delete the schedule.
async fn quarantine_foreign_calls<S: Store>(
    scheduler: &Scheduler<S>,
) -> anyhow::Result<Vec<String>> {
    let actor = Actor::principal(
        &config_owner(),
        Scope::All,
        Limits::default(),
        AuditContext {
            principal_id: Some(config_owner()),
            user_agent: Some("warden serve --jobs".into()),
            ..AuditContext::default()
        },
    );
    let mut paused = Vec::new();
    for s in schedules_in(scheduler.store(), Scope::All).await? {
        if s.template.kind.as_str() == HTTP_JOB_TYPE && s.owner != CONFIG_OWNER && !s.paused {
            scheduler.set_schedule_paused_as(&actor, s.id, true).await?;
            paused.push(s.id.to_string());
        }
    }
    Ok(paused)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use warden_core::{AuditAction, SystemClock};
    use warden_engine::{Engine, EngineConfig, Registry};
    use warden_store::{AccessStore, AuditFilter};
    use warden_testkit::{TestDb, backend_tests};

    use super::*;

    fn file(text: &str) -> JobsFile {
        warden_exec::parse(text, "jobs.yaml").unwrap()
    }

    const V1: &str = r#"
jobs:
  - name: report
    schedule: "0 9 * * *"
    timezone: Europe/Paris
    url: "https://api.example.com/report"
    headers:
      Authorization: "Bearer ${REPORT_TOKEN}"
  - name: ping
    schedule: "*/5 * * * *"
    url: "https://api.example.com/ping"
"#;

    const V2: &str = r#"
jobs:
  - name: report
    schedule: "0 10 * * *"
    timezone: Europe/Paris
    url: "https://api.example.com/report"
  - name: sync
    schedule: "0 * * * *"
    url: "https://api.example.com/sync"
    enabled: false
"#;

    backend_tests!(
        jobs_become_config_schedules_and_follow_the_file,
        |db: TestDb| async move {
            let store = Arc::new(db.store().clone());
            let mut registry = Registry::new();
            registry
                .register(HTTP_JOB_TYPE, |_, _: serde_json::Value| async {})
                .unwrap();
            let scheduler = Engine::scheduler(
                store.clone(),
                registry,
                EngineConfig::default(),
                Arc::new(SystemClock),
            )
            .unwrap();
            let first = sync(&scheduler, &file(V1)).await.unwrap();
            assert_eq!(first.added, ["ping", "report"]);
            let stored = config_schedules(store.as_ref()).await.unwrap();
            assert_eq!(stored.len(), 2);
            let report = stored.iter().find(|s| s.name == "report").unwrap();
            assert_eq!(
                (report.owner.as_str(), report.cron.tz_name()),
                ("config", "Europe/Paris")
            );
            assert_eq!(report.template.kind.as_str(), HTTP_JOB_TYPE);
            // The definition stays in the file: the payload names the job, nothing more.
            let report = store.schedule_get(report.id, Scope::All).await.unwrap();
            assert_eq!(report.template.payload.to_json(), json!({"job": "report"}));

            // The same file again changes nothing (cursors and ledgers untouched).
            let again = sync(&scheduler, &file(V1)).await.unwrap();
            assert_eq!(
                again,
                SyncReport {
                    unchanged: 2,
                    ..SyncReport::default()
                }
            );

            let next = sync(&scheduler, &file(V2)).await.unwrap();
            assert_eq!(
                (next.added, next.changed, next.disabled),
                (
                    vec!["sync".to_owned()],
                    vec!["report".to_owned()],
                    vec!["ping".to_owned()]
                )
            );
            let stored = config_schedules(store.as_ref()).await.unwrap();
            let by_name = |n: &str| stored.iter().find(|s| s.name == n).unwrap().clone();
            assert_eq!(by_name("report").cron.expr(), "0 10 * * *");
            assert!(
                by_name("ping").paused,
                "a job removed from the file is paused, not deleted"
            );
            assert!(
                by_name("sync").paused,
                "a disabled job's schedule is paused"
            );
            let trail = store
                .audit_list(AuditFilter {
                    principal_id: Some(config_owner()),
                    ..Default::default()
                })
                .await
                .unwrap();
            let actions: Vec<AuditAction> = trail.iter().map(|e| e.record.action).collect();
            for a in [
                AuditAction::ScheduleCreate,
                AuditAction::ScheduleUpdate,
                AuditAction::SchedulePause,
            ] {
                assert!(actions.contains(&a), "{a} missing from {actions:?}");
            }
        }
    );

    backend_tests!(
        a_jobs_file_call_scheduled_by_another_principal_is_paused_at_sync,
        |db: TestDb| async move {
            let store = Arc::new(db.store().clone());
            let mut registry = Registry::new();
            registry
                .register_internal(HTTP_JOB_TYPE, |_, _: serde_json::Value| async {})
                .unwrap();
            let scheduler = Engine::scheduler(
                store.clone(),
                registry,
                EngineConfig::default(),
                Arc::new(SystemClock),
            )
            .unwrap();
            // As the API allowed before internal types were refused: mallory schedules
            // the file's `report` call for itself.
            let mallory_id = PrincipalId::parse("mallory").unwrap();
            let mallory = Actor::principal(
                &mallory_id,
                Scope::Owner(mallory_id.clone()),
                Limits::default(),
                AuditContext::default(),
            )
            .with_internal(InternalTypes::Create);
            let mut r = CronRequest::new("steal", "* * * * *", HTTP_JOB_TYPE);
            r.job = JobRequest::new(HTTP_JOB_TYPE, json!({"job": "report"}), "default");
            let stolen = scheduler.add_cron_as(&mallory, r).await.unwrap();

            let report = sync(&scheduler, &file(V1)).await.unwrap();
            assert_eq!(report.quarantined, [stolen.to_string()]);
            let s = store.schedule_get(stolen, Scope::All).await.unwrap();
            assert!(s.paused, "mallory's copy of the call must not fire");
            // The file's own schedules are left alone, and a second sync finds nothing.
            assert!(
                config_schedules(store.as_ref())
                    .await
                    .unwrap()
                    .iter()
                    .all(|s| !s.paused)
            );
            let again = sync(&scheduler, &file(V1)).await.unwrap();
            assert!(again.quarantined.is_empty());
        }
    );
}
