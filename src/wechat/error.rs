//! What can go wrong talking to WeChat, classified as the `reason` label says.

use std::time::Duration;

/// One failed WeChat call. Messages never carry a URL (WeChat puts the
/// access_token in the query string) nor a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered with a non-zero `errcode`.
    #[error("WeChat errcode {code}: {msg}")]
    Api { code: i64, msg: String },
    /// An HTTP status other than 2xx or 3xx.
    #[error("HTTP status {status}")]
    Http { status: u16 },
    /// A 3xx answer. Never followed: the request carries the token or the secret.
    #[error("HTTP status {status}: a redirect, not followed")]
    Redirect { status: u16 },
    /// An answer longer than the configured limit, refused before it was parsed.
    #[error("the answer is larger than {limit} bytes (wechat.max_response_size)")]
    TooLarge { limit: usize },
    /// No complete answer within the configured timeout.
    #[error("request timed out")]
    Timeout,
    /// The connection could not be made or broke.
    #[error("connection failed: {0}")]
    Connect(String),
    /// A 2xx answer that is not what the API documents.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// An access_token file that cannot be used.
    #[error("access_token file {path}: {detail}")]
    TokenFile { path: String, detail: String },
    /// A third-party platform's token that is missing from its Redis, unreadable,
    /// or refused by WeChat even after reading it again. Never refreshed by us.
    #[error("token unavailable: {0}")]
    TokenUnavailable(String),
    /// A call not made because an earlier failure asked to wait.
    #[error("waiting {}s before trying again after: {cause}", wait.as_secs())]
    Backoff { wait: Duration, cause: Box<WechatError> },
}

/// Token errors WeChat gives when the token is stale: refresh once and retry once.
pub const TOKEN_STALE: [i64; 3] = [40001, 42001, 40014];
/// The stale token has expired: a plain fetch replaces it, nobody else's is touched.
pub const TOKEN_EXPIRED: i64 = 42001;
/// Credential errors: the config is wrong, and asking again will not help.
pub const BAD_CREDENTIALS: [i64; 3] = [40013, 40125, 40164];

/// The errcodes the exporter handles or documents (see the README's "Faults"):
/// each keeps a `reason` of its own. Any other is `errcode_other`, so a server
/// answering random codes cannot add series without end.
pub const KNOWN_ERRCODES: [i64; 18] = [
    -1,     // system busy
    10011,  // no data (cloudbase getStatistics)
    40001,  // token invalid or not the latest
    40002,  // invalid grant_type
    40013,  // invalid appid
    40014,  // invalid token
    40125,  // invalid appsecret
    40164,  // caller IP not whitelisted
    41001,  // access_token missing
    42001,  // token expired
    45009,  // daily quota
    45011,  // minute quota
    47001,  // data format error
    48001,  // API not authorized for this account
    61500,  // date format error
    61501,  // date range error
    200002, // parameter error
    200010, // more than 50 realtime log searches a minute
];

impl WechatError {
    /// The `reason` label of `wechat_exporter_api_failures_total`.
    pub fn reason(&self) -> String {
        match self {
            WechatError::Api { code, .. } if KNOWN_ERRCODES.contains(code) => format!("errcode_{code}"),
            WechatError::Api { .. } => "errcode_other".into(),
            WechatError::Http { status } => format!("http_{status}"),
            WechatError::Redirect { .. } => "redirect".into(),
            WechatError::TooLarge { .. } => "too_large".into(),
            WechatError::Timeout => "timeout".into(),
            WechatError::Connect(_) => "connect".into(),
            WechatError::InvalidResponse(_) => "invalid_response".into(),
            WechatError::TokenFile { .. } => "token_file".into(),
            WechatError::TokenUnavailable(_) => "token_unavailable".into(),
            WechatError::Backoff { cause, .. } => cause.reason(),
        }
    }

    pub fn errcode(&self) -> Option<i64> {
        match self {
            WechatError::Api { code, .. } => Some(*code),
            WechatError::Backoff { cause, .. } => cause.errcode(),
            _ => None,
        }
    }

    pub fn is_stale_token(&self) -> bool {
        matches!(self, WechatError::Api { code, .. } if TOKEN_STALE.contains(code))
    }

    /// Classifies a transport error. The URL is dropped first, since it holds the token.
    pub fn from_reqwest(err: reqwest::Error) -> WechatError {
        let err = err.without_url();
        if err.is_timeout() {
            return WechatError::Timeout;
        }
        if let Some(status) = err.status() {
            return WechatError::Http { status: status.as_u16() };
        }
        if err.is_decode() {
            return WechatError::InvalidResponse(chain(&err));
        }
        WechatError::Connect(chain(&err))
    }
}

/// An error and its sources on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_the_spec() {
        assert_eq!(WechatError::Api { code: 45009, msg: String::new() }.reason(), "errcode_45009");
        assert_eq!(WechatError::Api { code: -1, msg: String::new() }.reason(), "errcode_-1");
        assert_eq!(WechatError::Http { status: 502 }.reason(), "http_502");
        assert_eq!(WechatError::Timeout.reason(), "timeout");
        assert_eq!(WechatError::Connect("x".into()).reason(), "connect");
        assert_eq!(WechatError::InvalidResponse("x".into()).reason(), "invalid_response");
        let b = WechatError::Backoff { wait: Duration::from_secs(3), cause: Box::new(WechatError::Timeout) };
        assert_eq!(b.reason(), "timeout");
        assert!(WechatError::Api { code: 42001, msg: String::new() }.is_stale_token());
        assert_eq!(WechatError::TokenUnavailable("x".into()).reason(), "token_unavailable");
        assert_eq!(WechatError::Redirect { status: 302 }.reason(), "redirect");
        assert_eq!(WechatError::TooLarge { limit: 10 }.reason(), "too_large");
    }

    #[test]
    fn unknown_errcodes_share_one_reason() {
        let api = |code| WechatError::Api { code, msg: String::new() };
        for code in KNOWN_ERRCODES.iter().chain(&TOKEN_STALE).chain(&BAD_CREDENTIALS) {
            assert_eq!(api(*code).reason(), format!("errcode_{code}"));
        }
        for code in [1, 99999, -2, 40000, i64::MAX, i64::MIN] {
            assert_eq!(api(code).reason(), "errcode_other");
            // The code itself still shows in the message, for the log line.
            assert!(api(code).to_string().contains(&code.to_string()));
        }
    }
}
