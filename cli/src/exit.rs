//! Exit codes of `vitrine`, in one place: what each means ([`ExitKind`]), how an error carries its
//! kind ([`ResultExt::kind`], [`error`]), and how the kind of any error is found ([`classify`]).
//!
//! | code | kind | when |
//! | --- | --- | --- |
//! | 0 | ok | the command did what it was asked |
//! | 1 | internal | anything not classified below (a bug: please report it) |
//! | 2 | usage | an unknown flag, a bad or conflicting flag value (clap's own errors too) |
//! | 3 | input | an input that cannot be read or is malformed (event log, test log, embeddings, ids, catalog, manifest, reports, orders, a file that is not a bundle) |
//! | 4 | integrity | a bundle's digest is missing or does not match its contents |
//! | 5 | io | an output cannot be written (bundle, stdout, database), an address cannot be bound |
//! | 6 | check | the command ran and what it checks did not hold (`exp load`: a report lost or stored twice) |
//!
//! The help of every subcommand ends with [`HELP`]; `docs/cli.md` has the same table.

use std::fmt;

use vitrine::error::{BundleError, VitrineError};
use vitrine::experiment::ExperimentError;

/// What went wrong, as far as the exit code tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Unclassified: a bug.
    Internal,
    /// Bad command line.
    Usage,
    /// An input that cannot be read or is malformed.
    Input,
    /// A bundle whose digest is missing or wrong.
    Integrity,
    /// An output that cannot be written.
    Io,
    /// A check the command runs failed.
    Check,
}

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Internal => 1,
            Self::Usage => 2,
            Self::Input => 3,
            Self::Integrity => 4,
            Self::Io => 5,
            Self::Check => 6,
        }
    }

    /// The kind's name in `--json` error documents.
    pub fn name(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Usage => "usage",
            Self::Input => "input",
            Self::Integrity => "integrity",
            Self::Io => "io",
            Self::Check => "check",
        }
    }
}

/// The exit codes as every subcommand's `--help` shows them (`after_help`).
pub const HELP: &str = "\
Exit codes:
  0  ok
  1  internal error (a bug: please report it)
  2  usage: unknown flag, bad or conflicting flag values
  3  bad input: a file that cannot be read or is malformed (logs, embeddings, manifest, bundle, ...)
  4  integrity: a bundle's digest is missing or does not match its contents
  5  I/O: an output cannot be written, an address cannot be bound
  6  check failed: the command ran and what it checks did not hold (exp load)

`-` reads stdin or writes stdout wherever a file is read or written. With --json, stdout holds one
JSON document (exp collect: one per line), errors included ({\"error\": {...}}); progress and
messages go to stderr. More: docs/cli.md.";

/// An error marked with its kind. Transparent: it displays as the error it wraps and hands on that
/// error's source, so `{:#}` prints the same chain as without the mark.
#[derive(Debug)]
struct Classified {
    kind: ExitKind,
    error: anyhow::Error,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Classified {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// An error of `kind` saying `message`.
pub fn error(kind: ExitKind, message: impl fmt::Display) -> anyhow::Error {
    mark(kind, anyhow::anyhow!("{message}"))
}

/// `error` marked with `kind`, unless it carries a mark already: the innermost mark, set where
/// the error was understood, wins over a blanket one further out (`read_x(…).kind(Input)`).
pub fn mark(kind: ExitKind, error: anyhow::Error) -> anyhow::Error {
    if marked(&error).is_some() {
        return error;
    }
    anyhow::Error::new(Classified { kind, error })
}

/// The kind an error was marked with, if any.
fn marked(e: &anyhow::Error) -> Option<ExitKind> {
    e.chain()
        .find_map(|c| c.downcast_ref::<Classified>())
        .map(|c| c.kind)
}

/// Returns early with an error of the given kind: `exit::fail!(Usage, "--x must be …, got {x}")`.
macro_rules! fail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::exit::error($crate::exit::ExitKind::$kind, format!($($arg)*)))
    };
}
pub(crate) use fail;

/// Marks the error of a `Result` with a kind.
pub trait ResultExt<T> {
    /// The same result, its error (if any) marked `kind`.
    fn kind(self, kind: ExitKind) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn kind(self, kind: ExitKind) -> anyhow::Result<T> {
        self.map_err(|e| mark(kind, e.into()))
    }
}

/// The kind of a bundle error: a missing or wrong digest is an integrity failure, anything else a
/// malformed input.
pub fn bundle_kind(e: &BundleError) -> ExitKind {
    match e {
        BundleError::DigestMismatch { .. } | BundleError::MissingDigest => ExitKind::Integrity,
        _ => ExitKind::Input,
    }
}

/// The kind of an error: its mark; without one, the kind its typed causes
/// imply (bundle errors, the engine's and the experiments' errors, CSV and JSON errors: input;
/// clap: usage; a bare I/O error: io); otherwise internal.
pub fn classify(e: &anyhow::Error) -> ExitKind {
    if let Some(kind) = marked(e) {
        return kind;
    }
    for cause in e.chain() {
        if let Some(b) = cause.downcast_ref::<BundleError>() {
            return bundle_kind(b);
        }
        if let Some(v) = cause.downcast_ref::<VitrineError>() {
            return match v {
                VitrineError::Bundle(b) => bundle_kind(b),
                _ => ExitKind::Input,
            };
        }
        if cause.is::<ExperimentError>()
            || cause.is::<csv::Error>()
            || cause.is::<serde_json::Error>()
        {
            return ExitKind::Input;
        }
        if cause.is::<clap::Error>() {
            return ExitKind::Usage;
        }
        if cause.is::<std::io::Error>() {
            return ExitKind::Io;
        }
    }
    ExitKind::Internal
}

/// The stable machine-readable code of the first typed error in the chain that has one (the
/// engine's `VitrineError::code`, an experiment error's `code`), for `--json` error documents.
pub fn typed_code(e: &anyhow::Error) -> Option<&'static str> {
    e.chain().find_map(|c| {
        if let Some(v) = c.downcast_ref::<VitrineError>() {
            Some(v.code())
        } else if c.is::<BundleError>() {
            Some("bundle")
        } else {
            c.downcast_ref::<ExperimentError>().map(|x| x.code)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_innermost_mark_wins_and_the_message_is_unchanged() {
        let inner: anyhow::Result<()> = Err(anyhow::anyhow!("line 3: bad"));
        let e = inner
            .context("reading x.csv")
            .kind(ExitKind::Input)
            .context("training")
            .unwrap_err();
        assert_eq!(classify(&e), ExitKind::Input);
        assert_eq!(format!("{e:#}"), "training: reading x.csv: line 3: bad");
        let e = mark(ExitKind::Usage, e);
        assert_eq!(
            classify(&e),
            ExitKind::Input,
            "a blanket mark does not override"
        );
        assert_eq!(format!("{e:#}"), "training: reading x.csv: line 3: bad");
    }

    #[test]
    fn typed_causes_classify_without_a_mark() {
        let digest: anyhow::Error = BundleError::MissingDigest.into();
        assert_eq!(classify(&digest.context("b.vtr")), ExitKind::Integrity);
        let junk: anyhow::Error = VitrineError::Bundle(BundleError::Container("x".into())).into();
        assert_eq!(classify(&junk), ExitKind::Input);
        let io: anyhow::Error = std::io::Error::other("disk full").into();
        assert_eq!(classify(&io), ExitKind::Io);
        assert_eq!(classify(&anyhow::anyhow!("?")), ExitKind::Internal);
        let exp: anyhow::Error = ExperimentError::new("unknown_field", "x", "m").into();
        assert_eq!(typed_code(&exp.context("manifest")), Some("unknown_field"));
    }

    #[test]
    fn codes_are_distinct() {
        let all = [
            ExitKind::Internal,
            ExitKind::Usage,
            ExitKind::Input,
            ExitKind::Integrity,
            ExitKind::Io,
            ExitKind::Check,
        ];
        let mut codes: Vec<u8> = all.iter().map(|k| k.code()).collect();
        codes.dedup();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 6]);
        for k in all {
            assert!(HELP.contains(&format!("  {}  ", k.code())), "{k:?}");
        }
    }
}
