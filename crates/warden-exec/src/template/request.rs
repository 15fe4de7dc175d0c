//! A job's request with every template resolved, ready for the HTTP client.

use std::fmt;

use secrecy::SecretString;

use super::{
    Builtins, Env, ResolveError,
    resolve::{Encoding, resolve_with},
};
use crate::{
    jobsfile::{Data, HttpJob, Method},
    redact::Redactor,
    secrets::SecretProvider,
};

/// The request for one run. Holds resolved secrets: its `Debug` shows none of them.
pub struct ResolvedRequest {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
    secrets: Vec<SecretString>,
}

impl ResolvedRequest {
    pub fn method(&self) -> Method {
        self.method
    }
    /// The URL; substituted values are percent-encoded. Query parameters from `data`
    /// (GET and HEAD) are in [`ResolvedRequest::query`], not in this string.
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
    /// Query parameters from `data` for GET and HEAD (a list repeats its key).
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }
    /// The JSON body from `data` for the other methods.
    pub fn body(&self) -> Option<&serde_json::Value> {
        self.body.as_ref()
    }
    /// Every value that came from the environment or a secret provider.
    pub fn secrets(&self) -> &[SecretString] {
        &self.secrets
    }
    /// A redactor for everything logged or stored about this run.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(&self.secrets)
    }
}

impl fmt::Debug for ResolvedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.redactor();
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), r.redact_header(n, v)))
            .collect();
        f.debug_struct("ResolvedRequest")
            .field("method", &self.method)
            .field("url", &r.redact(&self.url))
            .field("headers", &headers)
            .field("query", &self.query.len())
            .field("body", &self.body.is_some())
            .finish()
    }
}

/// Resolves every template of `job` for one run: URL, headers and data. The env file
/// is read once for the whole request; secrets are fetched from `secrets` now.
pub fn resolve_request(
    job: &HttpJob,
    env: &Env,
    builtins: &Builtins,
    secrets: &dyn SecretProvider,
) -> Result<ResolvedRequest, ResolveError> {
    let snapshot = env.snapshot()?;
    let mut used = Vec::new();
    let mut one =
        |t: &crate::template::Template, encoding: Encoding| -> Result<String, ResolveError> {
            let (value, s) = resolve_with(t, &snapshot, builtins, secrets, encoding)?.into_parts();
            used.extend(s);
            Ok(value)
        };
    let url = one(job.url(), Encoding::Url)?;
    let mut headers = Vec::with_capacity(job.headers().len());
    for h in job.headers() {
        let value = one(h.value(), Encoding::Raw)?;
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ResolveError::InvalidHeaderValue {
                header: h.name().to_owned(),
            });
        }
        headers.push((h.name().to_owned(), value));
    }
    let (mut query, mut body) = (Vec::new(), None);
    if let Some(data) = job.data() {
        let value = data_value(data, &mut one)?;
        if job.method().data_is_query() {
            query = to_query(&value);
        } else {
            body = Some(value);
        }
    }
    Ok(ResolvedRequest {
        method: job.method(),
        url,
        headers,
        query,
        body,
        secrets: used,
    })
}

type Resolve<'a> =
    dyn FnMut(&crate::template::Template, Encoding) -> Result<String, ResolveError> + 'a;

fn data_value(d: &Data, one: &mut Resolve<'_>) -> Result<serde_json::Value, ResolveError> {
    use serde_json::Value;
    Ok(match d {
        Data::Null => Value::Null,
        Data::Bool(b) => Value::Bool(*b),
        Data::Number(n) => Value::Number(n.clone()),
        Data::String(t) => Value::String(one(t, Encoding::Raw)?),
        Data::List(items) => Value::Array(
            items
                .iter()
                .map(|i| data_value(i, one))
                .collect::<Result<_, _>>()?,
        ),
        Data::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), data_value(v, one)?)))
                .collect::<Result<_, ResolveError>>()?,
        ),
    })
}

/// A flat JSON object as query pairs (the loader guarantees the shape for GET/HEAD).
fn to_query(v: &serde_json::Value) -> Vec<(String, String)> {
    use serde_json::Value;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    if let Value::Object(map) = v {
        for (k, v) in map {
            match v {
                Value::Array(items) => out.extend(items.iter().map(|i| (k.clone(), text(i)))),
                other => out.push((k.clone(), text(other))),
            }
        }
    }
    out
}
