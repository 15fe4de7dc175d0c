//! The OpenAPI 3.1 document of the API, built from the route table and served at
//! `GET /api/v1/openapi.json` (authenticated, any role).
//!
//! # Model
//! Each handler carries a `#[utoipa::path]` attribute (its path, method, parameters, body
//! and the answers it gives itself), and each entry of [`crate::routes_table`] carries
//! that handler's description next to the handler, so a route and its description are
//! registered together. [`document`] walks the table and adds what the router adds
//! around every handler:
//! - the security requirement (any one of the three schemes) and the 401 answer on every
//!   route that is not in [`crate::PUBLIC_ROUTES`], whose operations say `security: []`;
//! - 429 (the rate limits) and 408 (the request timeout) on every route.
//!
//! Schemas come from the answer and body types themselves (`ToSchema`), so they cannot
//! drift from what is sent. The document is checked in as `crates/warden-api/openapi.json`;
//! a test compares it with what the server serves (regenerate with
//! `UPDATE_OPENAPI=1 cargo test -p warden-api openapi`).

use std::sync::Arc;

use axum::{
    Extension,
    http::header,
    response::{IntoResponse, Response},
};
use utoipa::{
    __dev::{SchemaReferences, Tags},
    PartialSchema, ToResponse, ToSchema,
    openapi::{
        ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, LicenseBuilder, Object,
        ObjectBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, ResponseBuilder, Type,
        header::HeaderBuilder,
        path::Operation,
        response::Response as OaResponse,
        schema::{ArrayItems, Schema},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement},
        tag::TagBuilder,
    },
};

use crate::{PUBLIC_ROUTES, Route, auth::Caller, error::ErrorEnvelope};

/// One route's description, as its `#[utoipa::path]` gives it.
pub struct RouteDoc {
    pub path: String,
    pub methods: Vec<HttpMethod>,
    pub operation: Operation,
    /// The schemas the operation refers to, by name.
    pub schemas: Vec<(String, RefOr<Schema>)>,
}

/// The description of the handler whose `#[utoipa::path]` made `P` (`__path_<handler>`).
///
/// `SchemaReferences` and `Tags` are utoipa's hidden traits, the ones `utoipa-axum`'s
/// `routes!` uses to do the same; they are pinned with the utoipa version.
pub(crate) fn doc_of<P>() -> RouteDoc
where
    P: utoipa::Path + SchemaReferences + for<'t> Tags<'t>,
{
    let mut operation = P::operation();
    let tags: Vec<String> = P::tags().into_iter().map(str::to_owned).collect();
    if !tags.is_empty() {
        operation.tags = Some(tags);
    }
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    RouteDoc {
        path: P::path(),
        methods: P::methods(),
        operation,
        schemas,
    }
}

/// The names of the security schemes; a caller needs any one of them.
pub const SECURITY_SCHEMES: [&str; 3] = ["bearer", "jobApiKey", "internalApiKey"];

macro_rules! error_responses {
    ($($name:ident = $description:literal $(, $header:ident)?;)+) => {
        $(
            #[doc = $description]
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<OaResponse>) {
                    let response = error_response($description);
                    $(let response = $header(response);)?
                    (stringify!($name), response.build().into())
                }
            }
        )+

        /// Every reusable error answer, for the document's `components.responses`.
        fn error_response_components() -> Vec<(&'static str, RefOr<OaResponse>)> {
            vec![$(<$name as ToResponse<'static>>::response()),+]
        }
    };
}

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .build(),
    )
}

fn integer() -> Object {
    ObjectBuilder::new().schema_type(Type::Integer).build()
}

fn string() -> Object {
    ObjectBuilder::new().schema_type(Type::String).build()
}

fn with_retry_after(response: ResponseBuilder) -> ResponseBuilder {
    response.header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(Some(integer()))
            .description(Some("Seconds to wait before trying again."))
            .build(),
    )
}

fn with_www_authenticate(response: ResponseBuilder) -> ResponseBuilder {
    response.header(
        "WWW-Authenticate",
        HeaderBuilder::new()
            .schema(Some(string()))
            .description(Some(r#"`Bearer realm="warden"`"#))
            .build(),
    )
}

error_responses! {
    BadRequest = "The request is invalid (`invalid_request`): a malformed or unknown field, parameter or id; the message names it.";
    Unauthorized = "No valid credentials (`unauthenticated`).", with_www_authenticate;
    Forbidden = "The caller's role may not do this (`forbidden`), or a limit of the principal forbids it (`limit_not_allowed`).";
    NotFound = "No such object, or not the caller's to see (`not_found`).";
    Conflict = "The object's state does not allow this (`wrong_state`), or it clashes with an existing one (`conflict`).";
    PayloadTooLarge = "The body is larger than the server's limit (`body_too_large`).";
    UnsupportedMediaType = "The body is not sent as `application/json` (`unsupported_media_type`).";
    TooManyRequests = "A rate limit (`rate_limited`) or the principal's quota (`quota_exceeded`) is exceeded.", with_retry_after;
    RequestTimeout = "The request took longer than the server's timeout (`request_timeout`).";
}

fn security_requirements() -> Vec<SecurityRequirement> {
    SECURITY_SCHEMES
        .iter()
        .map(|name| SecurityRequirement::new(*name, Vec::<String>::new()))
        .collect()
}

fn response_ref(name: &str) -> RefOr<OaResponse> {
    Ref::new(format!("#/components/responses/{name}")).into()
}

/// The OpenAPI document of the routes in `table`.
pub fn document<S>(table: &[Route<S>]) -> OpenApi {
    let mut paths = PathsBuilder::new().build();
    let mut components = ComponentsBuilder::new()
        .schema(ErrorEnvelope::name(), ErrorEnvelope::schema())
        .responses_from_iter(error_response_components())
        .security_scheme(
            "bearer",
            utoipa::openapi::security::SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer KEY`: an API key (`wdn_…`), \
                         `JOB_SCHEDULER_API_KEY`, or an OIDC JWT from the configured issuer.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "jobApiKey",
            utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Header(
                ApiKeyValue::with_description(
                    "x-job-api-key",
                    "An API key (`wdn_…`) or `JOB_SCHEDULER_API_KEY` (the admin role).",
                ),
            )),
        )
        .security_scheme(
            "internalApiKey",
            utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Header(
                ApiKeyValue::with_description(
                    "x-internal-api-key",
                    "`INTERNAL_API_KEY` (the service role); refused from a browser.",
                ),
            )),
        )
        .build();
    let mut error_schemas = Vec::new();
    <ErrorEnvelope as ToSchema>::schemas(&mut error_schemas);
    components.schemas.extend(error_schemas);
    for route in table {
        let RouteDoc {
            path,
            methods,
            mut operation,
            schemas,
        } = (route.doc)();
        let responses = &mut operation.responses.responses;
        if PUBLIC_ROUTES.contains(&route.path) {
            operation.security = Some(Vec::new());
        } else {
            operation.security = Some(security_requirements());
            responses.insert("401".into(), response_ref("Unauthorized"));
        }
        responses.insert("408".into(), response_ref("RequestTimeout"));
        responses.insert("429".into(), response_ref("TooManyRequests"));
        paths.add_path_operation(path, methods, operation);
        components.schemas.extend(schemas);
    }
    let doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Warden")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The REST API of Warden, a job scheduler. Answers are JSON: \
                     `{\"ok\": true, \"data\": …}` on success (lists add `nextCursor`), \
                     `{\"ok\": false, \"error\": {\"code\", \"message\", \"request_id\"}}` \
                     on failure. Every route but `/healthz` and `/readyz` needs credentials; \
                     every answer carries `X-Request-Id`.",
                ))
                .license(Some(LicenseBuilder::new().name("Apache-2.0").build()))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .security(Some(security_requirements()))
        .tags(Some(
            [
                ("jobs", "Jobs: create, list, cancel, retry, and their runs."),
                ("schedules", "Cron schedules and their occurrence ledger."),
                ("queues", "Declared queues."),
                ("keys", "API keys (admin)."),
                ("principals", "Principals and their limits (admin)."),
                ("audit", "The audit trail (admin)."),
                ("seed", "The seed-compatible endpoint."),
                ("health", "Liveness and readiness (public)."),
                ("meta", "This document."),
            ]
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(description))
                    .build()
            }),
        ))
        .build();
    refer_to_components(doc)
}

/// utoipa inlines the type argument of a generic schema: `Data_Job`'s `data` is a copy
/// of `Job`. Replaces such copies in the envelopes' `data` (or its `items`) with a
/// `$ref` to the named schema, so the document reads `"$ref": "#/components/schemas/Job"`.
fn refer_to_components(mut doc: OpenApi) -> OpenApi {
    let Some(components) = doc.components.as_mut() else {
        return doc;
    };
    let named: Vec<(String, RefOr<Schema>)> = components
        .schemas
        .iter()
        .map(|(name, schema)| (name.clone(), schema.clone()))
        .collect();
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::Object(envelope)) = schema
            && let Some(data) = envelope.properties.get_mut("data")
        {
            refer(data, &named);
        }
    }
    doc
}

fn refer(slot: &mut RefOr<Schema>, named: &[(String, RefOr<Schema>)]) {
    if let Some((name, _)) = named.iter().find(|(_, schema)| schema == slot) {
        *slot = Ref::from_schema_name(name.as_str()).into();
    } else if let RefOr::T(Schema::Array(array)) = slot
        && let ArrayItems::RefOrSchema(items) = &mut array.items
    {
        refer(items, named);
    }
}

/// The document as served and checked in: pretty JSON and a final newline.
pub fn to_json(doc: &OpenApi) -> String {
    let mut json = doc
        .to_pretty_json()
        .expect("an OpenAPI document serializes to JSON");
    json.push('\n');
    json
}

/// The served document, made once when the router is built.
#[derive(Clone)]
pub(crate) struct OpenApiJson(pub(crate) Arc<str>);

/// `GET /api/v1/openapi.json`: this document. Any authenticated caller may read it.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object),
    )
)]
pub(crate) async fn get_openapi(
    _caller: Caller,
    Extension(doc): Extension<OpenApiJson>,
) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
        .into_response()
}
