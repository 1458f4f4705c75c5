//! Where a platform keeps its tokens in Redis: key templates with `{component_appid}`
//! and `{appid}` placeholders. The defaults are WxJava's layout, the most common one;
//! a platform with a key prefix or another SDK's layout writes its own.

use std::fmt;

/// WxJava's `WxOpenInRedisConfigStorage`: the component_access_token.
pub const DEFAULT_COMPONENT_KEY: &str = "wechat_component_access_token:{component_appid}";
/// WxJava's `WxOpenInRedisConfigStorage`: one authorizer_access_token per authorized app.
pub const DEFAULT_AUTHORIZER_KEY: &str = "wechat_authorizer_access_token:{component_appid}:{appid}";

const COMPONENT_APPID: &str = "{component_appid}";
const APPID: &str = "{appid}";

/// A checked key template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTemplate {
    text: String,
}

/// Which key a template is for: only an authorizer's key may (and must) name `{appid}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Component,
    Authorizer,
}

impl KeyTemplate {
    /// Checks a template: every `{…}` is a known placeholder, and an authorizer's key
    /// names `{appid}` (or every app would read the same token).
    pub fn parse(text: &str, kind: KeyKind) -> Result<KeyTemplate, String> {
        if text.trim().is_empty() {
            return Err("the key template is empty".into());
        }
        if text.chars().any(char::is_whitespace) {
            return Err(format!("{text:?} holds whitespace; Redis keys written by SDKs never do"));
        }
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open..];
            let Some(close) = after.find('}') else {
                return Err(format!("{text:?} has a `{{` without its `}}`"));
            };
            let placeholder = &after[..=close];
            match (placeholder, kind) {
                (COMPONENT_APPID, _) | (APPID, KeyKind::Authorizer) => {}
                (APPID, KeyKind::Component) => {
                    return Err(format!(
                        "{text:?} names {{appid}}, but the component token is one per platform: use {{component_appid}} only"
                    ));
                }
                _ => {
                    return Err(format!(
                        "{text:?} has the unknown placeholder {placeholder}; the placeholders are {{component_appid}} and {{appid}}"
                    ));
                }
            }
            rest = &after[close + 1..];
        }
        if kind == KeyKind::Authorizer && !text.contains(APPID) {
            return Err(format!("{text:?} does not name {{appid}}, so every authorized app would read the same token"));
        }
        Ok(KeyTemplate { text: text.to_string() })
    }

    pub fn default_for(kind: KeyKind) -> KeyTemplate {
        let text = match kind {
            KeyKind::Component => DEFAULT_COMPONENT_KEY,
            KeyKind::Authorizer => DEFAULT_AUTHORIZER_KEY,
        };
        KeyTemplate { text: text.to_string() }
    }

    /// The key for one platform (and, for an authorizer's key, one app).
    pub fn render(&self, component_appid: &str, appid: &str) -> String {
        self.text.replace(COMPONENT_APPID, component_appid).replace(APPID, appid)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for KeyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_wxjavas_layout() {
        let c = KeyTemplate::default_for(KeyKind::Component);
        let a = KeyTemplate::default_for(KeyKind::Authorizer);
        assert_eq!(c.render("wxcomp1", "ignored"), "wechat_component_access_token:wxcomp1");
        assert_eq!(a.render("wxcomp1", "wxapp1"), "wechat_authorizer_access_token:wxcomp1:wxapp1");
        // The defaults pass their own checks.
        assert_eq!(KeyTemplate::parse(DEFAULT_COMPONENT_KEY, KeyKind::Component), Ok(c));
        assert_eq!(KeyTemplate::parse(DEFAULT_AUTHORIZER_KEY, KeyKind::Authorizer), Ok(a));
    }

    #[test]
    fn a_prefix_or_another_layout_is_taken_as_written() {
        let t = KeyTemplate::parse("acme:wx:{appid}:token", KeyKind::Authorizer).unwrap();
        assert_eq!(t.render("wxcomp1", "wxapp9"), "acme:wx:wxapp9:token");
        let t = KeyTemplate::parse("static_component_token", KeyKind::Component).unwrap();
        assert_eq!(t.render("wxcomp1", ""), "static_component_token");
    }

    #[test]
    fn mistakes_say_what_is_right() {
        let e = KeyTemplate::parse("tok:{component_appid}", KeyKind::Authorizer).unwrap_err();
        assert!(e.contains("does not name {appid}"), "{e}");
        let e = KeyTemplate::parse("tok:{app_id}", KeyKind::Authorizer).unwrap_err();
        assert!(e.contains("unknown placeholder {app_id}") && e.contains("{component_appid} and {appid}"), "{e}");
        let e = KeyTemplate::parse("tok:{appid", KeyKind::Authorizer).unwrap_err();
        assert!(e.contains("without its"), "{e}");
        let e = KeyTemplate::parse("tok:{appid}", KeyKind::Component).unwrap_err();
        assert!(e.contains("one per platform"), "{e}");
        assert!(KeyTemplate::parse("  ", KeyKind::Component).is_err());
        assert!(KeyTemplate::parse("a {appid}", KeyKind::Authorizer).is_err());
    }
}
