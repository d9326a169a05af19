//! [`ExperimentError`]: why a manifest, a report or an experiment call was refused, and the
//! classification of serde's errors into its codes.

use thiserror::Error;

/// Why a manifest, a report or an experiment call was refused: a stable machine-readable `code`
/// (e.g. `unknown_field`, `allocation`, `wrong_epsilon`), the JSON path of the bad field
/// (`experiments[0].arms[1].allocation`; `` for the whole document) and a sentence for people.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message} (at '{path}', code {code})")]
pub struct ExperimentError {
    /// Stable code of the error's kind.
    pub code: &'static str,
    /// JSON path of the field at fault.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl ExperimentError {
    /// An error of kind `code` at `path`.
    pub fn new(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<crate::error::PrivacyError> for ExperimentError {
    fn from(e: crate::error::PrivacyError) -> Self {
        Self::new("privacy", "", e.to_string())
    }
}

/// A serde error with its path, classified (`unknown_field`, `missing_field`, `invalid_json`,
/// `invalid_type`).
pub(crate) fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ExperimentError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let text = inner.to_string();
    let code = if text.contains("unknown field") {
        "unknown_field"
    } else if text.contains("missing field") {
        "missing_field"
    } else if inner.is_syntax() || inner.is_eof() {
        "invalid_json"
    } else {
        "invalid_type"
    };
    let path = if path == "." { String::new() } else { path };
    ExperimentError::new(code, path, text)
}
