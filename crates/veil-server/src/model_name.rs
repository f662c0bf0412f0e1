//! Model names: the only client-chosen string that reaches the file system.

use std::fmt;

/// A validated model name: 1–128 characters of `[A-Za-z0-9._-]`, starting
/// with a letter or digit. Safe as a file name and in a URL path segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelName(String);

/// A string that is not a valid model name.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid model name: use 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"
)]
pub struct InvalidModelName;

impl ModelName {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, InvalidModelName> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            Ok(ModelName(s.to_owned()))
        } else {
            Err(InvalidModelName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["mnist", "resnet-50", "a.b_c", "0"] {
            assert!(ModelName::new(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn refuses_path_tricks_and_oddities() {
        for n in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "é",
            &"a".repeat(129),
        ] {
            assert!(ModelName::new(n).is_err(), "{n}");
        }
    }
}
