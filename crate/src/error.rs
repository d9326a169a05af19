//! Typed errors, one enum per concern. The wasm layer turns each into a JS `Error` whose message is
//! the `Display` text below, so every message names what was expected and what was found.

use thiserror::Error;

/// Why a model bundle was rejected. Hostile or corrupt bundles are normal input: every check that
/// fails yields one of these, never a panic.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum BundleError {
    /// The safetensors container itself is malformed (header JSON, tensor offsets, trailing bytes).
    #[error("not a valid bundle: safetensors container is malformed ({0})")]
    Container(String),
    /// The file ends before the data its header declares (or before the 8-byte header length).
    #[error("not a valid bundle: file is truncated: {expected} bytes expected, {found} present")]
    Truncated { expected: u64, found: u64 },
    /// The 8-byte header length points beyond the end of the file.
    #[error("not a valid bundle: header length {header_len} is beyond the end of the file ({file_len} bytes)")]
    HeaderBeyondFile { header_len: u64, file_len: u64 },
    /// A declared size exceeds a reader limit (checked before anything is allocated or decoded).
    #[error("not a valid bundle: {what} is {found}, above the limit of {limit}")]
    TooLarge {
        what: String,
        found: u64,
        limit: u64,
    },
    /// The `required` metadata key lists a tensor this reader does not understand.
    #[error("bundle requires tensor '{0}', which this reader does not understand (newer bundle format?)")]
    UnknownRequired(String),
    /// The bundle has no `digest` key while digest verification was asked for.
    #[error("not a valid bundle: metadata key 'digest' is missing (digest verification is on)")]
    MissingDigest,
    /// The recorded digest does not match the bundle's contents: it was altered or corrupted.
    #[error("bundle digest mismatch: metadata says {recorded}, contents hash to {computed} (altered or corrupted file)")]
    DigestMismatch { recorded: String, computed: String },
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
        expected: String,
        found: String,
    },
    /// A tensor has the wrong shape, or disagrees with another tensor's shape.
    #[error("tensor '{name}' has shape {found:?}, expected {expected}")]
    Shape {
        name: String,
        expected: String,
        found: Vec<usize>,
    },
    /// A value is NaN or infinite, or out of its range, or breaks an invariant (neighbour lists,
    /// category indices, names); `index` is the element's position in the tensor.
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
