//! The recorded OpenClaw fixtures the tests replay, kept in the repository
//! under `tests/fixtures/` (see its README.md), so a fresh clone tests on its
//! own. Every test and unit test reaches them through [`path`], which names a
//! missing path and says how to get it back instead of failing with a bare
//! "No such file or directory".
//!
//! Included with `#[path = "support/fixtures.rs"] mod fixtures;` (and by the
//! library's unit tests through `src/lib.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `tests/fixtures/` of this checkout.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `tests/fixtures/<rel>` (a file or a directory); panics when it is missing.
pub fn path(rel: &str) -> PathBuf {
    let p = root().join(rel);
    if std::fs::symlink_metadata(&p).is_err() {
        panic!(
            "fixture {} is missing: the tests read their fixtures from tests/fixtures/, which is \
             part of the repository; restore it with `git checkout -- tests/fixtures` (it is a \
             copy of ../shared/fixtures/{rel}, see tests/fixtures/README.md)",
            p.display()
        );
    }
    p
}

/// The bytes of the fixture file `rel`.
pub fn bytes(rel: &str) -> Vec<u8> {
    let p = path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// The text of the fixture file `rel`.
pub fn read(rel: &str) -> String {
    let p = path(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}
