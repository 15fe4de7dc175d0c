//! The success envelopes: `{"ok": true, "data": T}` and, for pages of a list,
//! `{"ok": true, "data": [T], "nextCursor": string | null}`. Handlers return these typed,
//! so the OpenAPI document describes what is sent. (The error envelope is in `error`.)

use serde::{Serialize, Serializer};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ObjectBuilder, RefOr, Type, schema::Schema},
};

/// The literal `true` (`"ok"` of a success).
#[derive(Debug, Clone, Copy, Default)]
pub struct True;

/// The literal `false` (`"ok"` of an error).
#[derive(Debug, Clone, Copy, Default)]
pub struct False;

impl Serialize for True {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl Serialize for False {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(false)
    }
}

fn literal_bool(value: bool) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([value]))
        .build()
        .into()
}

impl PartialSchema for True {
    fn schema() -> RefOr<Schema> {
        literal_bool(true)
    }
}

impl ToSchema for True {}

impl PartialSchema for False {
    fn schema() -> RefOr<Schema> {
        literal_bool(false)
    }
}

impl ToSchema for False {}

/// `{"ok": true, "data": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Data<T> {
    pub ok: True,
    pub data: T,
}

impl<T> Data<T> {
    pub fn new(data: T) -> Self {
        Self { ok: True, data }
    }
}

/// A page of a list, with the cursor of the next page (`null` on the last).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub ok: True,
    pub data: Vec<T>,
    /// Pass as `after` (or `before` for the audit trail) to get the next page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn new(data: Vec<T>, next_cursor: Option<String>) -> Self {
        Self {
            ok: True,
            data,
            next_cursor,
        }
    }
}
