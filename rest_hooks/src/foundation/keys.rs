//! The key of a hook: its id, as bodies, the engine's tables and the API show it.

use std::fmt;

use sea_orm::prelude::Uuid;
use serde::{Deserialize, Serialize};

/// A hook's id as it appears in bodies: a number or a string (such as a UUID).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HookId {
    /// An integer id.
    Int(i64),
    /// Any other id, in text form.
    Text(String),
}

impl HookId {
    /// Reads an id stored as text: an integer in its canonical form (`10`, `-3`) gives
    /// [`HookId::Int`], anything else (`+10`, `010`, a UUID) [`HookId::Text`], so that every id
    /// reads back as the text it was read from.
    ///
    /// ```
    /// use rest_hooks::HookId;
    /// assert_eq!(HookId::parse("10"), HookId::Int(10));
    /// assert_eq!(HookId::parse("010"), HookId::Text("010".into()));
    /// ```
    pub fn parse(text: &str) -> Self {
        canonical_int(text).map_or_else(|| Self::Text(text.to_owned()), Self::Int)
    }
}

/// `text` as an integer, when it is that integer's canonical form: no sign but `-`, no leading
/// zero, no space.
pub(crate) fn canonical_int(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|number| number.to_string() == text)
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(id) => write!(f, "{id}"),
            Self::Text(id) => f.write_str(id),
        }
    }
}

impl From<i64> for HookId {
    fn from(id: i64) -> Self {
        Self::Int(id)
    }
}

impl From<i32> for HookId {
    fn from(id: i32) -> Self {
        Self::Int(id.into())
    }
}

impl From<Uuid> for HookId {
    fn from(id: Uuid) -> Self {
        Self::Text(id.to_string())
    }
}

impl From<String> for HookId {
    fn from(id: String) -> Self {
        Self::Text(id)
    }
}
