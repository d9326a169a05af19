//! Reading an experiments manifest from a file.

use std::path::Path;

use anyhow::{Context, Result};
use vitrine::experiment::ValidManifest;

/// Reads and validates a manifest file.
pub fn read_manifest(path: &Path) -> Result<ValidManifest> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read manifest {}", path.display()))?;
    ValidManifest::from_json(&text)
        .with_context(|| format!("manifest {} is invalid", path.display()))
}
