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
    /// The memory could not grow to hold `bytes` (an allocation failed below the address
    /// space's limit: a device short of memory, or a wasm memory at its maximum).
    #[error(
        "cannot load the bundle: {what} needs {bytes} bytes, more than this device's memory gives"
    )]
    OutOfMemory { what: String, bytes: u64 },
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
    #[error("tensor '{name}' has shape {}, expected {expected}", crate::numfmt::dims(.found))]
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
    /// A catalog update made for another bundle file than the one loaded.
    #[error("catalog update is for the bundle {update}, but the loaded bundle is {loaded} (make updates against the bundle the page loads)")]
    UpdateBase { update: String, loaded: String },
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
    #[error("unknown event type '{0}' (expected one of: view, click, add_to_cart, remove_from_cart, purchase, search)")]
    UnknownEventType(String),
    /// An event field is missing, not allowed for the event's type, or out of range.
    #[error("invalid event field '{field}': {why}")]
    InvalidEvent { field: &'static str, why: String },
    /// A context value is malformed (e.g. `hour: 25`, `weekday: "x"`).
    #[error("invalid context '{key}': {why}")]
    InvalidContext { key: String, why: String },
    /// An option is outside its valid range.
    #[error("invalid option '{name}': {why}")]
    InvalidOption { name: &'static str, why: String },
    /// Options that do not have the expected shape (an unknown field, a wrong type, a missing
    /// required field), as a reader of the page's values found them.
    #[error("invalid {what}: {why}")]
    MalformedOptions { what: String, why: String },
    /// An event that does not have the expected shape.
    #[error("invalid {what}: {why}")]
    MalformedEvent { what: String, why: String },
}

/// Why a stored session state could not be restored. The session is left as it was; the caller
/// can start a fresh one (e.g. `reset()`) and overwrite the stored copy.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StateError {
    /// Not JSON, or JSON that does not follow the schema it claims.
    #[error("saved session state is corrupt: {0}")]
    Corrupt(String),
    /// JSON written by something else (its `format` is not `vitrine-session`).
    #[error("saved state is not a Vitrine session (format '{0}')")]
    Foreign(String),
    /// Written by a newer engine whose schema this one does not know.
    #[error("saved session state has version {found}, newer than this engine supports ({supported}); start a fresh session")]
    TooNew { found: u64, supported: u32 },
}

/// Why a privacy option, a privacy state or a noisy release failed. A release that fails is never
/// replaced by an un-noised one.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PrivacyError {
    /// A privacy option is outside its valid range.
    #[error("invalid privacy option '{name}': {why}")]
    InvalidOption { name: &'static str, why: String },
    /// The operating system's (the browser's) random number generator failed.
    #[error("no randomness for the privacy noise: {0}")]
    Entropy(String),
    /// A sampler was called outside its domain (a bug; nothing was released).
    #[error("privacy sampler failed: {0}")]
    Sampler(&'static str),
    /// A stored privacy state is malformed.
    #[error("saved privacy state is corrupt: {0}")]
    State(String),
    /// An internal invariant failed (a bug; nothing was released).
    #[error("privacy mechanism refused to release: {0}")]
    Internal(String),
}

/// Every error the engine can return.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum VitrineError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
}

impl VitrineError {
    /// A stable machine-readable code for the error's kind (the wasm layer sets it as the JS
    /// `Error`'s `code`): `bundle`, `unknown_item`, `unknown_event_type`, `invalid_event`,
    /// `invalid_context`, `invalid_option`, `state_corrupt`, `state_foreign`, `state_too_new`,
    /// `invalid_option` (privacy options too), `privacy` (no randomness, or a refused release).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Bundle(BundleError::UpdateBase { .. }) => "update_mismatch",
            Self::Bundle(_) => "bundle",
            Self::Request(RequestError::UnknownItem(_)) => "unknown_item",
            Self::Request(RequestError::UnknownEventType(_)) => "unknown_event_type",
            Self::Request(RequestError::InvalidEvent { .. }) => "invalid_event",
            Self::Request(RequestError::InvalidContext { .. }) => "invalid_context",
            Self::Request(RequestError::InvalidOption { .. }) => "invalid_option",
            Self::Request(RequestError::MalformedOptions { .. }) => "invalid_option",
            Self::Request(RequestError::MalformedEvent { .. }) => "invalid_event",
            Self::State(StateError::Corrupt(_)) => "state_corrupt",
            Self::State(StateError::Foreign(_)) => "state_foreign",
            Self::State(StateError::TooNew { .. }) => "state_too_new",
            Self::Privacy(PrivacyError::InvalidOption { .. }) => "invalid_option",
            Self::Privacy(PrivacyError::State(_)) => "state_corrupt",
            Self::Privacy(_) => "privacy",
        }
    }
}
