//! The YAML document as a tree of located nodes: the structural parse, with no meaning yet.
//!
//! serde-saphyr parses the text (with the budget and options in [`yaml_options`]) into
//! [`Node`]s, each wrapped in a [`Spanned`] that records its line and column. Mapping
//! entries keep their order and duplicates (the `PassThrough` policy), so the validator
//! can report every duplicate key, every unknown key and every wrong type at its own
//! location, all in one pass, instead of stopping at the first serde error.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Spanned};

/// A 1-based line and column (in characters). `0:0` when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

impl Loc {
    pub(crate) fn of<T>(s: &Spanned<T>) -> Self {
        // `referenced` is where the value is used: for an alias, the `*alias` itself.
        Self::from_saphyr(s.referenced)
    }

    pub(crate) fn from_saphyr(l: serde_saphyr::Location) -> Self {
        let narrow = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            line: narrow(l.line()),
            column: narrow(l.column()),
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A located YAML node.
pub(crate) type SNode = Spanned<Node>;
/// A mapping entry: located key and value.
pub(crate) type Entry = (Spanned<String>, SNode);

/// A YAML value, as inferred by the YAML 1.2 core schema (strict booleans).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// Integers; wide enough that no YAML integer overflows before range checks.
    Int(i128),
    /// Finite floats (serde-saphyr rejects `.inf` and `.nan` in this mode).
    Float(f64),
    Str(String),
    Seq(Vec<SNode>),
    Map(Vec<Entry>),
}

impl Node {
    /// What the user wrote, for "expected X, found Y" messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a number with a fraction",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        i128::try_from(v)
            .map(Node::Int)
            .map_err(|_| E::custom("integer is too large"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        if v.is_finite() {
            Ok(Node::Float(v))
        } else {
            Err(E::custom("infinite or NaN numbers are not accepted"))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Err(E::custom("binary values are not accepted"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<SNode>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<SNode>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

/// Parser limits. A jobs file is small and hand-written: these are far above any real
/// file and far below what would take noticeable time or memory.
pub(crate) mod limits {
    /// Largest accepted file.
    pub(crate) const MAX_FILE_BYTES: usize = 1024 * 1024;
    /// Deepest nesting of lists and mappings (`data` is the only deep part).
    pub(crate) const MAX_DEPTH: usize = 32;
    pub(crate) const MAX_NODES: usize = 50_000;
    pub(crate) const MAX_EVENTS: usize = 200_000;
    pub(crate) const MAX_ANCHORS: usize = 1_000;
    pub(crate) const MAX_ALIASES: usize = 1_000;
    /// Events copied in when aliases are expanded, in all: this is what stops a
    /// "billion laughs" file, whose few aliases expand exponentially.
    pub(crate) const MAX_REPLAYED_EVENTS: usize = 20_000;
    pub(crate) const MAX_REPLAY_DEPTH: usize = 16;
}

/// serde-saphyr options: tight budget, one document, duplicates forwarded to us,
/// YAML 1.2 booleans only (`yes` stays a string), unknown tags refused.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    use limits::*;
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_FILE_BYTES),
            max_events: MAX_EVENTS,
            max_nodes: MAX_NODES,
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_anchors: MAX_ANCHORS,
            max_aliases: MAX_ALIASES,
            max_documents: 1,
            max_inclusion_depth: 0,
            max_total_scalar_bytes: 2 * MAX_FILE_BYTES,
            max_recorded_anchor_events: MAX_REPLAYED_EVENTS,
            max_recorded_anchor_bytes: MAX_FILE_BYTES,
            max_merge_keys: MAX_ALIASES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
            max_replay_stack_depth: MAX_REPLAY_DEPTH,
            max_alias_expansions_per_anchor: MAX_ALIASES,
        },
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        reject_unsupported_tags: true,
    }
}

/// Parses `text` into a located tree, or the parser's one error (with its location).
pub(crate) fn parse_tree(text: &str) -> Result<SNode, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options::<SNode>(text, yaml_options())
}
