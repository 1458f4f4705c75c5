//! A string that must never be printed: an AppSecret or an access_token.

use std::fmt;
use std::sync::Arc;

/// Holds a secret. `Debug` and `Display` print a placeholder, so a secret inside a
/// config struct, an error or a log field cannot leak by formatting; only
/// [`Secret::expose`] gives the value, at the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces every occurrence of `secret` in `text`, for text that came from outside
/// (an errmsg that might echo a token back).
pub fn scrub(text: &str, secret: &Secret) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    text.replace(secret.expose(), "<redacted>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2-secret");
        assert!(!format!("{s:?} {s} {:?}", Some(&s)).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-secret");
        assert_eq!(scrub("token hunter2-secret bad", &s), "token <redacted> bad");
    }
}
