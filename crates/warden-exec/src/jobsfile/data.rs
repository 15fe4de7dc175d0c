//! The `data` field: JSON-like values whose strings may hold references.

use std::collections::HashSet;

use super::{
    Data, LoadErrorKind, Method, Reference,
    checker::{Checker, join},
    fields::{note_references, template},
    node::{Loc, Node, SNode},
};

/// Converts `data`; for GET and HEAD it must be a flat mapping (it becomes the query).
pub(super) fn data(
    c: &mut Checker<'_>,
    node: &SNode,
    field: &str,
    method: Method,
    refs: &mut Vec<Reference>,
) -> Option<Data> {
    if node.value == Node::Null {
        return None;
    }
    let before = c.error_count();
    let value = convert(c, node, field, refs);
    if c.error_count() != before {
        return None;
    }
    if method.data_is_query() && !is_flat_map(value.as_ref()?) {
        c.invalid(
            node,
            field,
            format!(
                "for {method}, `data` becomes query parameters: expected a mapping whose values are strings, numbers, booleans or lists of them"
            ),
        );
        return None;
    }
    value
}

fn is_flat_map(d: &Data) -> bool {
    let scalar = |d: &Data| !matches!(d, Data::List(_) | Data::Map(_));
    match d {
        Data::Map(entries) => entries.iter().all(|(_, v)| match v {
            Data::List(items) => items.iter().all(scalar),
            other => scalar(other),
        }),
        _ => false,
    }
}

fn convert(
    c: &mut Checker<'_>,
    node: &SNode,
    field: &str,
    refs: &mut Vec<Reference>,
) -> Option<Data> {
    Some(match &node.value {
        Node::Null => Data::Null,
        Node::Bool(b) => Data::Bool(*b),
        Node::Int(i) => {
            let n = i64::try_from(*i)
                .map(serde_json::Number::from)
                .or_else(|_| u64::try_from(*i).map(serde_json::Number::from));
            match n {
                Ok(n) => Data::Number(n),
                Err(_) => {
                    c.invalid(
                        node,
                        field,
                        "the integer does not fit in 64 bits; quote it to send a string",
                    );
                    return None;
                }
            }
        }
        Node::Float(f) => Data::Number(serde_json::Number::from_f64(*f)?),
        Node::Str(_) => {
            let t = template(c, node, field)?;
            note_references(&t, field, Loc::of(node), refs);
            Data::String(t)
        }
        Node::Seq(items) => Data::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(c, item, &format!("{field}[{i}]"), refs))
                .collect::<Vec<_>>()
                .into_iter()
                .collect::<Option<_>>()?,
        ),
        Node::Map(entries) => {
            let mut seen = HashSet::new();
            let mut out = Vec::with_capacity(entries.len());
            let mut ok = true;
            for (key, value) in entries {
                let f = join(field, &key.value);
                if !seen.insert(key.value.as_str()) {
                    c.err(
                        Loc::of(key),
                        &f,
                        LoadErrorKind::DuplicateKey,
                        format!("duplicate key `{}`; remove one", key.value),
                    );
                    ok = false;
                    continue;
                }
                match convert(c, value, &f, refs) {
                    Some(v) => out.push((key.value.clone(), v)),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Data::Map(out)
        }
    })
}
