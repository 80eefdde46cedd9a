//! What every section's parser shares: the error that names the field path, reading a field or a
//! list with serde, and the checks more than one section needs (one header-name rule for all).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A policy that failed to parse or validate: the field path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Dotted path of the offending field (`""` for the document itself).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl PolicyError {
    pub(crate) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into() }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "policy: {}", self.reason)
        } else {
            write!(f, "policy field `{}`: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for PolicyError {}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub(super) fn parse_field<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, PolicyError> {
    T::deserialize(value).map_err(|e| PolicyError::new(path, e.to_string()))
}

pub(super) fn parse_list<T: DeserializeOwned>(value: &Value, path: &str) -> Result<Vec<T>, PolicyError> {
    let items = value.as_array().ok_or_else(|| PolicyError::new(path, "expected an array"))?;
    items.iter().enumerate().map(|(i, v)| parse_field(v, &format!("{path}[{i}]"))).collect()
}

pub(super) fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// The one header-name rule of the policy: lower-case letters, digits, `-` and `_` (Envoy keeps
/// underscores by default), not empty.
pub fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// [`valid_header_name`], as an error naming the field.
pub(super) fn check_header(name: &str, path: &str) -> Result<(), PolicyError> {
    if valid_header_name(name) {
        Ok(())
    } else {
        Err(PolicyError::new(path, format!("`{name}` is not a lower-case header name")))
    }
}

pub(super) fn check_nonempty(value: &str, path: &str) -> Result<(), PolicyError> {
    if value.trim().is_empty() {
        Err(PolicyError::new(path, "must not be empty"))
    } else {
        Ok(())
    }
}

pub(super) fn err(path: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError { path: path.to_string(), reason: reason.into() }
}

pub(super) fn unit(v: f32, path: &str) -> Result<f32, PolicyError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(err(path, "must be between 0 and 1"))
    }
}
