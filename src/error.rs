//! Errors of the state stores. Every variant names the file it concerns, so a
//! user can act on the message without guessing.

use std::path::PathBuf;

/// What went wrong while reading or changing pairing state.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not JSON we can read. It is never written over.
    #[error(
        "{path}: malformed JSON at line {line}, column {column}: {message} \
         (left untouched; run `clawpair doctor --repair` to move it aside)"
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON, but holding data of a shape we do not understand.
    #[error(
        "{path}: unexpected content: {message} \
         (left untouched; run `clawpair doctor --repair` to move it aside)"
    )]
    Shape { path: PathBuf, message: String },
    /// The file is larger than any legitimate state file.
    #[error("{path}: file is too large ({size} bytes, limit {limit})")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The same message OpenClaw uses, so scripts can match either.
    #[error("file lock timeout for {0}")]
    LockTimeout(PathBuf),
    #[error("invalid pairing channel")]
    InvalidChannelKey,
    #[error("invalid pairing account id")]
    InvalidAccountKey,
    #[error("failed to generate unique pairing code")]
    CodeSpaceExhausted,
    /// A request for an operation that refers to something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Input rejected before anything was touched.
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
