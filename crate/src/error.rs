//! Typed errors, one enum per concern. The wasm layer turns each into a JS `Error` whose message is
//! the `Display` text below, so every message names what was expected and what was found.

use thiserror::Error;

/// Why a model bundle was rejected. Hostile or corrupt bundles are normal input: every check that
/// fails yields one of these, never a panic.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum BundleError {
    /// The safetensors container itself is malformed (header length, JSON, offsets, truncation).
    #[error("not a valid bundle: safetensors container is malformed ({0})")]
    Container(String),
    /// `__metadata__` is absent or lacks a key every bundle must have.
    #[error("not a valid bundle: metadata key '{0}' is missing")]
    MissingMetadata(&'static str),
    /// The `format` key names another format.
    #[error("not a valid bundle: format is '{found}', expected '{expected}'")]
    WrongFormat {
        expected: &'static str,
        found: String,
    },
    /// The bundle was written for a format version this reader does not understand.
    #[error("unsupported bundle format_version '{found}' (this reader supports {supported})")]
    UnsupportedVersion {
        found: String,
        supported: &'static str,
    },
    /// A required tensor is absent.
    #[error("not a valid bundle: required tensor '{0}' is missing")]
    MissingTensor(&'static str),
    /// A tensor has the wrong dtype.
    #[error("tensor '{name}' has dtype {found}, expected {expected}")]
    Dtype {
        name: String,
        expected: &'static str,
        found: String,
    },
    /// A tensor has the wrong shape, or disagrees with another tensor's shape.
    #[error("tensor '{name}' has shape {found:?}, expected {expected}")]
    Shape {
        name: String,
        expected: String,
        found: Vec<usize>,
    },
    /// A value that must be finite (scale, popularity) is NaN or infinite, or out of range.
    #[error("tensor '{name}' holds an invalid value at index {index}: {why}")]
    Value {
        name: String,
        index: usize,
        why: String,
    },
    /// The item id list is malformed (not UTF-8, empty id, duplicate, count mismatch).
    #[error("item ids are invalid: {0}")]
    Ids(String),
    /// A metadata value could not be parsed.
    #[error("metadata key '{key}' has invalid value '{value}': {why}")]
    Metadata {
        key: String,
        value: String,
        why: String,
    },
}

/// Why a request from the page (an event, recommend options) was rejected.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RequestError {
    /// The item id is not in the bundle's catalog.
    #[error("unknown item id '{0}' (not in the bundle's catalog)")]
    UnknownItem(String),
    /// The event type is not one we know.
    #[error("unknown event type '{0}' (expected one of: view, click, add_to_cart, remove_from_cart, purchase)")]
    UnknownEventType(String),
    /// An option is outside its valid range.
    #[error("invalid option '{name}': {why}")]
    InvalidOption { name: &'static str, why: String },
}

/// Every error the engine can return.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum VitrineError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Request(#[from] RequestError),
}
