//! Reading inputs and writing outputs, where `-` means stdin (inputs) or stdout (outputs). Every
//! failure is classified: an input that cannot be read is bad input (exit 3), an output that
//! cannot be written is an I/O error (exit 5); files are written atomically.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::exit::{ExitKind, ResultExt};

/// Whether `path` is `-` (stdin for an input, stdout for an output).
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How an input is named in messages: its path, or `stdin`.
pub fn input_name(path: &Path) -> String {
    if is_stdio(path) {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// How an output is named in messages: its path, or `stdout`.
pub fn output_name(path: &Path) -> String {
    if is_stdio(path) {
        "stdout".into()
    } else {
        path.display().to_string()
    }
}

/// Refuses a command line that reads stdin for more than one of its inputs (`flags`: each flag's
/// name and value, if given).
pub fn stdin_at_most_once(flags: &[(&str, Option<&Path>)]) -> Result<()> {
    let dashes: Vec<&str> = flags
        .iter()
        .filter(|(_, p)| p.is_some_and(is_stdio))
        .map(|(f, _)| *f)
        .collect();
    if dashes.len() > 1 {
        crate::exit::fail!(
            Usage,
            "only one input can be read from stdin, but {} are `-`",
            dashes.join(" and ")
        );
    }
    Ok(())
}

/// Opens an input (`what` names it in messages, e.g. "event log").
pub fn open_input(path: &Path, what: &str) -> Result<Box<dyn Read>> {
    if is_stdio(path) {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {what} {}", path.display()))
        .kind(ExitKind::Input)?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

/// Reads a whole input.
pub fn read_input(path: &Path, what: &str) -> Result<Vec<u8>> {
    if is_stdio(path) {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {what} from stdin"))
            .kind(ExitKind::Input)?;
        return Ok(bytes);
    }
    std::fs::read(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))
        .kind(ExitKind::Input)
}

/// Reads a whole input as UTF-8 text.
pub fn read_input_string(path: &Path, what: &str) -> Result<String> {
    let bytes = read_input(path, what)?;
    String::from_utf8(bytes)
        .with_context(|| format!("{what} {} is not UTF-8 text", input_name(path)))
        .kind(ExitKind::Input)
}

/// Refuses `--json` together with an output written to stdout (both would need stdout).
pub fn stdout_free_for_json(out: &Path, flag: &str, json: bool) -> Result<()> {
    if json && is_stdio(out) {
        crate::exit::fail!(
            Usage,
            "{flag} - writes to stdout, which --json needs for its document: give {flag} a file"
        );
    }
    Ok(())
}

/// Writes a binary output: atomically to a file, or to stdout for `-` (refused when stdout is a
/// terminal).
pub fn write_output(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    if is_stdio(path) {
        if std::io::stdout().is_terminal() {
            crate::exit::fail!(
                Usage,
                "refusing to write the {what} (binary) to a terminal: redirect stdout or give a file"
            );
        }
        return crate::output::write_stdout(bytes);
    }
    write_atomically(path, bytes, what).kind(ExitKind::Io)
}

/// Writes to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8], what: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().ok();
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move the {what} into place at {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
