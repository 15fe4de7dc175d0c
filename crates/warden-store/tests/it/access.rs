//! Conformance: principals, API keys and the audit trail.

use uuid::Uuid;
use warden_core::{AuditAction, AuditOutcome, Priority, Role};
use warden_store::{
    AccessStore, ApiKeyRecord, AuditFilter, AuditRecord, KeyRotation, Limits, Page,
    PrincipalRecord, StoreError,
};
use warden_testkit::backend_tests;

use crate::support::{assert_empty, at, pid, t0};

fn key(principal: &str, hash: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: Uuid::now_v7(),
        principal_id: pid(principal),
        name: format!("{principal}-key"),
        role: Role::Scheduler,
        prefix: "wdn_0123abcd".into(),
        hash: hash.into(),
        created_at: t0(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        rotated_from: None,
    }
}

fn audit(action: AuditAction, target: &str) -> AuditRecord {
    AuditRecord {
        at: t0(),
        principal_id: Some(pid("admin")),
        key_id: Some("k1".into()),
        action,
        target: Some(target.into()),
        outcome: AuditOutcome::Ok,
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        request_id: Some("req-1".into()),
        client_request_id: Some("client-1".into()),
        detail: None,
    }
}

backend_tests!(
    keys_are_found_by_hash_with_their_principal,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let k = key("alice", "hash-a");
        store
            .api_key_insert(k.clone(), vec![audit(AuditAction::KeyCreate, "alice")])
            .await
            .unwrap();
        let found = store.api_key_find("hash-a").await.unwrap().unwrap();
        assert_eq!(found.key, k);
        assert_eq!(found.principal.id, "alice");
        assert!(!found.principal.disabled);
        assert_eq!(found.principal.limits, Limits::default());
        assert!(store.api_key_find("hash-b").await.unwrap().is_none());
        assert_eq!(store.api_key_get(k.id).await.unwrap(), k);
        // The same hash twice is refused: a hash names one key.
        assert!(matches!(
            store.api_key_insert(key("bob", "hash-a"), vec![]).await,
            Err(StoreError::Conflict(_))
        ));
        // ... and the failed insert left no principal behind.
        assert!(matches!(
            store.principal_get("bob").await,
            Err(StoreError::NotFound)
        ));
        let listed = store.api_key_list(Some("alice".into())).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_empty(store.api_key_list(Some("carol".into()))).await;
    }
);

backend_tests!(
    revoked_rotated_and_touched_keys_record_it,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let old = key("alice", "old");
        store.api_key_insert(old.clone(), vec![]).await.unwrap();
        let mut new = key("alice", "new");
        new.rotated_from = Some(old.id);
        store
            .api_key_rotate(
                KeyRotation {
                    old_id: old.id,
                    old_expires_at: at(3600),
                    new_key: new.clone(),
                },
                vec![audit(AuditAction::KeyRotate, &old.id.to_string())],
            )
            .await
            .unwrap();
        let old_now = store.api_key_get(old.id).await.unwrap();
        assert_eq!(old_now.expires_at, Some(at(3600)));
        assert!(old_now.is_live(at(3599)) && !old_now.is_live(at(3600)));
        assert_eq!(
            store.api_key_get(new.id).await.unwrap().rotated_from,
            Some(old.id)
        );
        // A rotation may not change the principal or role.
        let mut thief = key("mallory", "thief");
        thief.role = Role::Admin;
        assert!(matches!(
            store
                .api_key_rotate(
                    KeyRotation {
                        old_id: new.id,
                        old_expires_at: at(10),
                        new_key: thief,
                    },
                    vec![]
                )
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.api_key_get(new.id).await.unwrap().expires_at, None);

        store.api_key_touch_many(vec![new.id], at(5)).await.unwrap();
        store.api_key_touch_many(vec![new.id], at(4)).await.unwrap();
        assert_eq!(
            store.api_key_get(new.id).await.unwrap().last_used_at,
            Some(at(5))
        );
        store
            .api_key_revoke(new.id, at(6), vec![audit(AuditAction::KeyRevoke, "x")])
            .await
            .unwrap();
        assert!(!store.api_key_get(new.id).await.unwrap().is_live(at(6)));
        assert!(matches!(
            store.api_key_revoke(Uuid::now_v7(), at(6), vec![]).await,
            Err(StoreError::NotFound)
        ));
        // A revoked key cannot be rotated.
        assert!(matches!(
            store
                .api_key_rotate(
                    KeyRotation {
                        old_id: new.id,
                        old_expires_at: at(10),
                        new_key: key("alice", "newer"),
                    },
                    vec![]
                )
                .await,
            Err(StoreError::NotFound)
        ));
        let actions: Vec<AuditAction> = store
            .audit_list(AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.record.action)
            .collect();
        assert_eq!(actions, [AuditAction::KeyRevoke, AuditAction::KeyRotate]);
    }
);

backend_tests!(
    principals_are_upserted_listed_and_counted,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let limits = Limits {
            allowed_job_types: Some(vec!["send-email".into()]),
            allowed_priorities: Some(vec![Priority::Low, Priority::Medium]),
            max_active: Some(3),
            max_concurrent: Some(1),
        };
        let mut p = PrincipalRecord {
            id: pid("alice"),
            disabled: false,
            limits: limits.clone(),
            created_at: t0(),
            updated_at: t0(),
        };
        store.principal_upsert(p.clone(), vec![]).await.unwrap();
        assert_eq!(store.principal_get("alice").await.unwrap(), p);
        p.disabled = true;
        p.updated_at = at(1);
        store
            .principal_upsert(
                p.clone(),
                vec![audit(AuditAction::PrincipalUpdate, "alice")],
            )
            .await
            .unwrap();
        let got = store.principal_get("alice").await.unwrap();
        assert!(got.disabled && got.created_at == t0() && got.updated_at == at(1));
        for id in ["bob", "carol"] {
            store
                .principal_upsert(
                    PrincipalRecord {
                        id: pid(id),
                        ..p.clone()
                    },
                    vec![],
                )
                .await
                .unwrap();
        }
        let page: Vec<String> = store
            .principal_list(
                Page {
                    limit: 2,
                    after: None,
                },
                None,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id.to_string())
            .collect();
        assert_eq!(page, ["alice", "bob"]);
        let next = store
            .principal_list(
                Page {
                    limit: 2,
                    after: None,
                },
                Some("bob".into()),
            )
            .await
            .unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].id, "carol");
        assert_eq!(store.principal_active_count("alice").await.unwrap(), 0);
    }
);

backend_tests!(
    the_audit_trail_filters_and_pages_newest_first,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut records = Vec::new();
        for i in 0..5 {
            let mut r = audit(
                if i % 2 == 0 {
                    AuditAction::JobCreate
                } else {
                    AuditAction::AuthFailure
                },
                "t",
            );
            r.at = at(i);
            r.principal_id = Some(pid(&format!("p{}", i % 2)));
            if i == 1 {
                r.outcome = AuditOutcome::Unauthenticated;
            }
            records.push(r);
        }
        store.audit_insert_many(records.clone()).await.unwrap();
        store.audit_insert_many(vec![]).await.unwrap();
        let all = store.audit_list(AuditFilter::default()).await.unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all[0].record, records[4]);
        assert!(all.windows(2).all(|w| w[0].id > w[1].id));
        let matching =
            |filter: AuditFilter| async { store.audit_list(filter).await.unwrap().len() };
        let failures = AuditFilter {
            action: Some(AuditAction::AuthFailure),
            ..Default::default()
        };
        assert_eq!(matching(failures).await, 2);
        let by_outcome = AuditFilter {
            outcome: Some(AuditOutcome::Unauthenticated),
            ..Default::default()
        };
        assert_eq!(matching(by_outcome).await, 1);
        let p0_since_2 = AuditFilter {
            principal_id: Some(pid("p0")),
            since: Some(at(2)),
            ..Default::default()
        };
        assert_eq!(matching(p0_since_2).await, 2);
        let page2 = store
            .audit_list(AuditFilter {
                before_id: Some(all[1].id),
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page2.iter().map(|e| e.id).collect::<Vec<_>>(),
            [all[2].id, all[3].id]
        );
    }
);

backend_tests!(
    the_first_secret_check_value_is_kept,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let first = store
            .secret_check_ensure("aa".repeat(32), t0())
            .await
            .unwrap();
        assert_eq!(first, "aa".repeat(32));
        // Another process's value does not replace it: it is told the stored one.
        let later = store
            .secret_check_ensure("bb".repeat(32), at(1))
            .await
            .unwrap();
        assert_eq!(later, "aa".repeat(32));
    }
);
