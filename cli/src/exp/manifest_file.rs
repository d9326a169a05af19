//! Reading an experiments manifest from a file.

use std::path::Path;

use anyhow::{Context, Result};
use vitrine::experiment::ValidManifest;

use crate::exit::{ExitKind, ResultExt};
use crate::files;

/// Reads and validates a manifest file (`-`: stdin). Any failure is bad input (exit 3).
pub fn read_manifest(path: &Path) -> Result<ValidManifest> {
    let text = files::read_input_string(path, "manifest")?;
    ValidManifest::from_json(&text)
        .with_context(|| format!("manifest {} is invalid", files::input_name(path)))
        .kind(ExitKind::Input)
}
