//! The validator's error texts in each dialect (ajv's for 2026.2.26,
//! `formatValidationErrors` for 2026.9.6).

use super::*;

/// The validator's error texts: ajv's `errorsText` (`data/client/id must …`)
/// for 2026.2.26, 2026.9.6's `formatValidationErrors` (`at /client/id: …`,
/// `at root: unexpected property 'x'`) for protocol 4.
#[derive(Debug, Clone, Copy)]
pub struct Texts(pub Dialect);

impl Texts {
    fn at(self, path: &str, msg: &str) -> String {
        match self.0 {
            Dialect::V3 => format!("data{path} {msg}"),
            Dialect::V4 if path.is_empty() => msg.to_string(),
            Dialect::V4 => format!("at {path}: {msg}"),
        }
    }
    /// A key the closed object does not allow.
    pub fn additional(self, path: &str, key: &str) -> String {
        match self.0 {
            Dialect::V3 => format!("data{path} must NOT have additional properties ({key})"),
            Dialect::V4 => {
                let at = if path.is_empty() { "root" } else { path };
                format!("at {at}: unexpected property '{key}'")
            }
        }
    }
    /// A required key is missing.
    pub fn missing(self, path: &str, key: &str) -> String {
        self.at(path, &format!("must have required property '{key}'"))
    }
    /// A value of the wrong JSON type.
    pub fn typ(self, path: &str, ty: &str) -> String {
        self.at(path, &format!("must be {ty}"))
    }
    /// A string shorter than `n`.
    pub fn too_short(self, path: &str, n: usize) -> String {
        self.at(path, &format!("must NOT have fewer than {n} characters"))
    }
    /// A string longer than `n`.
    pub fn too_long(self, path: &str, n: usize) -> String {
        self.at(path, &format!("must NOT have more than {n} characters"))
    }
    /// A number below `min`.
    pub fn below(self, path: &str, min: i64) -> String {
        self.at(path, &format!("must be >= {min}"))
    }
    /// Not the one allowed constant.
    pub fn constant(self, path: &str) -> String {
        self.at(path, "must be equal to constant")
    }
    /// Not one of the allowed values (a union of literals in 2026.9.6).
    pub fn one_of(self, path: &str) -> String {
        match self.0 {
            Dialect::V3 => self.at(path, "must be equal to one of the allowed values"),
            Dialect::V4 => format!(
                "{}; {}",
                self.at(path, "must be equal to constant"),
                self.at(path, "must match a schema in anyOf")
            ),
        }
    }
}
