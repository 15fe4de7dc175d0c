//! `TestApp`: the real router and engine on 127.0.0.1:0 over a test database, with
//! helpers to make keys and call the API.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use reqwest::{Method, StatusCode, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use warden_api::{
    AppState, AuthConfig, DEFAULT_LATE_AFTER, HttpLimits, keys::issue_key, router_with,
};
use warden_core::{AuditAction, Clock, ManualClock, PrincipalId, QueueName, Role, SystemClock};
use warden_engine::{Engine, EngineConfig, EngineHandle, QueueConfig, Registry};
use warden_security::{apikey::KeyHasher, envkey::StaticKey};
use warden_store::{
    AccessStore, AnyStore, AuditContext, AuditEvent, AuditFilter, PrincipalRecord, StoreError,
};
use warden_testkit::TestDb;

/// The bootstrap keys the test server accepts from its "environment".
pub(crate) const ADMIN_ENV_KEY: &str = "admin-env-key-0123456789abcdef0123456789abcdef";
pub(crate) const INTERNAL_ENV_KEY: &str = "internal-env-key-0123456789abcdef0123456789ab";

/// The body the `leaky-http` job type reports: credentials a viewer must not read.
pub(crate) const LEAKED_BODY: &str =
    r#"{"access_token": "tok-abc123", "password":"pw-xyz", "note": "kept"}"#;

pub(crate) struct TestApp {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<AnyStore>,
    pub(crate) client: reqwest::Client,
    hasher: KeyHasher,
    _engine: EngineHandle<AnyStore>,
    _db: TestDb,
}

/// An answer: status, headers and the JSON body (`Null` when not JSON).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    /// Reads `res` whole.
    pub(crate) async fn read(res: reqwest::Response) -> Self {
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub(crate) fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register("warden.noop", |_, _: Value| async {}).unwrap();
    r.register("send-email", |_, _: Value| async {}).unwrap();
    r.register("report", |_, _: Value| async {}).unwrap();
    // Reports as an HTTP job does when the receiver answers with credentials in its body.
    r.register("leaky-http", |_, _: Value| async {
        warden_engine::Reported {
            outcome: warden_core::Outcome::Fail {
                error: format!("HTTP 500: {LEAKED_BODY}"),
            },
            output: serde_json::json!({
                "status": 500,
                "headers": {"content-type": "application/json"},
                "body": LEAKED_BODY,
                "echo": {"password": "pw-in-output"},
            }),
        }
    })
    .unwrap();
    r
}

/// How [`TestApp::spawn_opts`] builds the app.
pub(crate) struct Options {
    pub(crate) limits: HttpLimits,
    pub(crate) oidc: Option<warden_security::oidc::OidcVerifier>,
    /// Connection limits (as `warden serve` runs it), or none.
    pub(crate) conn: Option<warden_api::conn_limit::ConnLimits>,
    /// `/cron/run` enabled, and no internal cron loop (so every occurrence is accounted
    /// for by `/cron/run`).
    pub(crate) cron: Option<warden_api::cron_run::CronConfig>,
    pub(crate) late_after: Duration,
    /// The declared queues, 4 workers each.
    pub(crate) queues: Vec<String>,
    /// `GET /metrics` on the main address behind this token.
    pub(crate) metrics_token: Option<String>,
    /// How long job counts are reused (zero by default: tests see every change at once).
    pub(crate) job_counts_max_age: Duration,
    /// The engine's clock, when the test moves time itself (the system clock by default).
    pub(crate) clock: Option<ManualClock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            limits: unlimited(),
            oidc: None,
            conn: None,
            cron: None,
            late_after: DEFAULT_LATE_AFTER,
            queues: vec!["default".into(), "COMMUNICATIONS".into()],
            metrics_token: None,
            job_counts_max_age: Duration::ZERO,
            clock: None,
        }
    }
}

/// Default limits without rate limiting, and with every refusal recorded in full (tests
/// call fast, and count the records of their refusals).
pub(crate) fn unlimited() -> HttpLimits {
    HttpLimits {
        rate: warden_api::ratelimit::RateLimitConfig::default(),
        refusals: warden_api::refusals::RefusalLimits {
            recorded_per_window: u32::MAX,
            ..Default::default()
        },
        ..HttpLimits::default()
    }
}

/// [`unlimited`] but for the given request rates per client address and per principal
/// (per minute; 0 is no limit), behind `trusted_proxies`.
pub(crate) fn rate_limited(
    per_ip: u32,
    per_principal: u32,
    trusted_proxies: &[&str],
) -> HttpLimits {
    HttpLimits {
        rate: warden_api::ratelimit::RateLimitConfig {
            per_ip_per_minute: per_ip,
            per_principal_per_minute: per_principal,
            trusted_proxies: trusted_proxies.iter().map(|p| p.parse().unwrap()).collect(),
        },
        ..unlimited()
    }
}

impl TestApp {
    /// The app with the default limits but no rate limits (tests call fast).
    pub(crate) async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, unlimited()).await
    }

    pub(crate) async fn spawn_with(db: TestDb, limits: HttpLimits) -> Self {
        Self::spawn_full(db, limits, None).await
    }

    /// The app accepting OIDC tokens checked by `oidc`.
    pub(crate) async fn spawn_oidc(db: TestDb, oidc: warden_security::oidc::OidcVerifier) -> Self {
        Self::spawn_full(db, unlimited(), Some(oidc)).await
    }

    /// The app behind connection limits (as `warden serve` runs it).
    pub(crate) async fn spawn_conn_limited(
        db: TestDb,
        conn: warden_api::conn_limit::ConnLimits,
    ) -> Self {
        Self::spawn_opts(
            db,
            Options {
                conn: Some(conn),
                ..Options::default()
            },
        )
        .await
    }

    /// The app with `/cron/run` enabled, and no internal cron loop (so every occurrence is
    /// accounted for by `/cron/run`).
    pub(crate) async fn spawn_cron(db: TestDb, cron: warden_api::cron_run::CronConfig) -> Self {
        Self::spawn_opts(
            db,
            Options {
                cron: Some(cron),
                ..Options::default()
            },
        )
        .await
    }

    /// As [`Self::spawn_cron`], on an engine whose clock the test moves.
    pub(crate) async fn spawn_cron_on(
        db: TestDb,
        cron: warden_api::cron_run::CronConfig,
        clock: ManualClock,
    ) -> Self {
        Self::spawn_opts(
            db,
            Options {
                cron: Some(cron),
                clock: Some(clock),
                ..Options::default()
            },
        )
        .await
    }

    async fn spawn_full(
        db: TestDb,
        limits: HttpLimits,
        oidc: Option<warden_security::oidc::OidcVerifier>,
    ) -> Self {
        Self::spawn_opts(
            db,
            Options {
                limits,
                oidc,
                ..Options::default()
            },
        )
        .await
    }

    /// The app as `options` describe it.
    pub(crate) async fn spawn_opts(db: TestDb, options: Options) -> Self {
        let Options {
            limits,
            oidc,
            conn,
            cron,
            late_after,
            queues,
            metrics_token,
            job_counts_max_age,
            clock,
        } = options;
        let store = Arc::new(db.store().clone());
        let config = EngineConfig {
            queues: queues
                .iter()
                .map(|q| QueueConfig::new(QueueName::parse(q).unwrap(), 4))
                .collect(),
            poll_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_millis(200),
            run_cron: cron.is_none(),
            job_counts_max_age,
            ..EngineConfig::default()
        };
        let clock: Arc<dyn Clock> = match clock {
            Some(manual) => Arc::new(manual),
            None => Arc::new(SystemClock),
        };
        let engine = Engine::start_with_clock(store.clone(), registry(), config, clock).unwrap();
        let secret = warden_security::apikey::generate_server_secret();
        let hasher = KeyHasher::new(secret.expose_secret().as_bytes()).unwrap();
        let auth = AuthConfig {
            hasher: KeyHasher::new(secret.expose_secret().as_bytes()).unwrap(),
            admin_key: Some(
                StaticKey::new("JOB_SCHEDULER_API_KEY", SecretString::from(ADMIN_ENV_KEY)).unwrap(),
            ),
            internal_key: Some(
                StaticKey::new("INTERNAL_API_KEY", SecretString::from(INTERNAL_ENV_KEY)).unwrap(),
            ),
            oidc,
        };
        let extra = match metrics_token {
            Some(token) => warden_api::metrics::router(
                engine.scheduler().clone(),
                warden_api::metrics::install_recorder(),
                Some(StaticKey::new("METRICS_TOKEN", SecretString::from(token)).unwrap()),
            ),
            None => axum::Router::new(),
        };
        let app = router_with(
            AppState {
                store: store.clone(),
                scheduler: engine.scheduler().clone(),
                auth: Arc::new(auth),
                cron: cron
                    .map(|c| Arc::new(warden_api::cron_run::CronTrigger::new(c, engine.ticker()))),
                late_after,
            },
            limits,
            extra,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            match conn {
                None => {
                    let app = app.into_make_service_with_connect_info::<SocketAddr>();
                    axum::serve(listener, app).await.unwrap()
                }
                Some(limits) => {
                    let forever = std::future::pending();
                    warden_api::serve::serve(listener, limits, app, forever)
                        .await
                        .unwrap()
                }
            }
        });
        Self {
            addr,
            store,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            hasher,
            _engine: engine,
            _db: db,
        }
    }

    /// A stored key for `user` with `role`, as `warden keys create` makes it.
    pub(crate) async fn key(&self, user: &str, role: Role) -> String {
        let issued = issue_key(
            self.store.as_ref(),
            &self.hasher,
            &format!("{user}-{role}"),
            role,
            &PrincipalId::parse(user).unwrap(),
            None,
            Some(&AuditContext::default()),
        )
        .await
        .unwrap();
        issued.secret.expose_secret().to_owned()
    }

    /// The audit records with `action`, newest first (one page of the store's default size).
    pub(crate) async fn audit_with_action(&self, action: AuditAction) -> Vec<AuditEvent> {
        self.store
            .audit_list(AuditFilter {
                action: Some(action),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Disables (or enables again) principal `id`, recording it first if it has no record:
    /// a disabled principal's keys and tokens are refused at once.
    pub(crate) async fn set_disabled(&self, id: &str, disabled: bool) {
        let record = match self.store.principal_get(id).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => {
                let now = jiff::Timestamp::now();
                PrincipalRecord {
                    id: PrincipalId::parse(id).unwrap(),
                    disabled: false,
                    limits: Default::default(),
                    created_at: now,
                    updated_at: now,
                }
            }
            Err(e) => panic!("reading principal {id}: {e}"),
        };
        self.store
            .principal_upsert(PrincipalRecord { disabled, ..record }, vec![])
            .await
            .unwrap();
    }

    pub(crate) fn scheduler(&self) -> &warden_engine::Scheduler<AnyStore> {
        self._engine.scheduler()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Calls the API with a bearer key (or none) and an optional JSON body.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        self.send(req, body).await
    }

    pub(crate) async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
        body: Option<Value>,
    ) -> Answer {
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        Answer::read(req.send().await.unwrap()).await
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> Answer {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// `GET path` with `headers` (and no key of its own).
    pub(crate) async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.client.get(self.url(path));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.send(req, None).await
    }

    pub(crate) async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }
}
