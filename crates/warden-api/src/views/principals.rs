//! The view of a principal (disabled or not, and its limits), and the schema of the
//! limits it is sent and read with.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::{
    ToSchema,
    openapi::{
        Type,
        schema::{ArrayBuilder, SchemaType},
    },
};
use warden_store::{Limits, PrincipalRecord};

use super::schema::priority_schema;

// The schema of `warden_store::Limits`, which is what is sent and read (the store crate
// has no utoipa); a test below checks that the two name the same fields.
/// Per-principal limits (seed 004). An absent field means "no limit".
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = Limits)]
#[expect(
    dead_code,
    reason = "a schema only: the values are `warden_store::Limits`"
)]
pub(crate) struct LimitsSchema {
    /// Job types this principal may schedule.
    allowed_job_types: Option<Vec<String>>,
    #[schema(schema_with = allowed_priorities_schema)]
    allowed_priorities: Option<Vec<String>>,
    /// Most jobs not yet finished plus schedules this principal may own at once.
    #[schema(maximum = 2147483647)]
    max_active: Option<u32>,
    /// Most of this principal's jobs running at once.
    #[schema(maximum = 2147483647)]
    max_concurrent: Option<u32>,
}

fn allowed_priorities_schema() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(priority_schema())
        .description(Some("Priorities this principal may use."))
        .build()
}

/// A principal: whether it is disabled, and its limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Principal)]
pub struct PrincipalView {
    pub id: String,
    /// A disabled principal is refused at once, with every key it holds.
    pub disabled: bool,
    #[schema(value_type = LimitsSchema)]
    pub limits: Limits,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl PrincipalView {
    pub fn new(p: &PrincipalRecord) -> Self {
        Self {
            id: p.id.to_string(),
            disabled: p.disabled,
            limits: p.limits.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn the_limits_schema_names_the_fields_of_limits() {
        let full = Limits {
            allowed_job_types: Some(vec![]),
            allowed_priorities: Some(vec![]),
            max_active: Some(1),
            max_concurrent: Some(1),
        };
        let sent: BTreeSet<String> = serde_json::to_value(full)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let schema = serde_json::to_value(LimitsSchema::schema()).unwrap();
        let documented: BTreeSet<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(sent, documented);
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}
