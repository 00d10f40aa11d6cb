//! The one error type of vmamatrix and the exit codes it maps to.
//!
//! Build and boot failures are *results*, never errors: only problems that
//! stop vmamatrix from producing a result (bad input, missing tools, a series
//! that does not apply) are errors.

use std::path::PathBuf;

/// Process exit codes, documented in README.md.
pub mod exit {
    /// Everything ran; no regression.
    pub const OK: i32 = 0;
    /// The run finished and found regressions (patched worse than base).
    pub const REGRESSION: i32 = 1;
    /// Command-line usage error (clap's own code).
    pub const USAGE: i32 = 2;
    /// Setup or input problem: matrix.toml, kernel tree, tools, results dir.
    pub const SETUP: i32 = 3;
    /// The series cannot be read or does not apply to the base.
    pub const SERIES: i32 = 4;
    /// `report`/`merge` of a run that did not finish (interrupted, killed,
    /// still running): its cells without results prove nothing.
    pub const INCOMPLETE: i32 = 5;
    /// `doctor` found something missing.
    pub const MISSING: i32 = 6;
    /// Interrupted (Ctrl-C); finished stages are kept.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}:{line}:{column}: {msg}")]
    Matrix {
        path: PathBuf,
        line: usize,
        column: usize,
        msg: String,
    },
    /// A command-line value that names nothing (`--only`, `--trees`, ...).
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Setup(String),
    #[error("{path}: {msg}")]
    Io { path: PathBuf, msg: String },
    #[error("series {path}: {msg}")]
    SeriesParse { path: PathBuf, msg: String },
    #[error("patch {number} \"{subject}\" refused: {msg}")]
    PathEscape {
        number: usize,
        subject: String,
        msg: String,
    },
    #[error("patch {number} \"{subject}\" does not apply: {file}: {hunk}: {msg}")]
    PatchConflict {
        number: usize,
        subject: String,
        file: String,
        hunk: String,
        msg: String,
    },
    #[error("git: {0}")]
    Git(String),
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::SeriesParse { .. } | Error::PathEscape { .. } | Error::PatchConflict { .. } => {
                exit::SERIES
            }
            Error::Interrupted => exit::INTERRUPTED,
            Error::Usage(_) => exit::USAGE,
            _ => exit::SETUP,
        }
    }

    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Error {
        Error::Io {
            path: path.into(),
            msg: err.to_string(),
        }
    }
}

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::Git(e.message().to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
