//! access_tokens: fetched with `stable_token` (default) or the classic `/cgi-bin/token`,
//! or read from a file that another service keeps fresh.
//!
//! A token is cached until shortly before it expires. The cache sits behind an
//! async mutex held across the fetch, so when many collectors of one app want a
//! token at once, the first fetches and the rest wait and take its result: one
//! request, however many callers.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::client::{Api, Transport};
use super::error::{WechatError, BAD_CREDENTIALS};
use super::json;
use crate::secret::Secret;

pub const STABLE_TOKEN: Api = Api::post("getStableAccessToken", "/cgi-bin/stable_token");
pub const CLASSIC_TOKEN: Api = Api::get("getAccessToken", "/cgi-bin/token");

/// How the exporter gets tokens for apps with a secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenMode {
    /// `POST /cgi-bin/stable_token`: does not invalidate tokens other services hold.
    #[default]
    Stable,
    /// `GET /cgi-bin/token`: invalidates every other holder's token.
    Classic,
}

/// Where an app's tokens come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Credential {
    Secret { appid: String, secret: Secret, mode: TokenMode },
    File(PathBuf),
    /// A third-party platform's authorizer_access_token, read from the platform's
    /// Redis and never refreshed by the exporter.
    Platform(crate::platform::PlatformCredential),
}

/// Refresh this long before WeChat's `expires_in` runs out (or at half the
/// lifetime, for short-lived tokens), so no request goes out with a token about to die.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// After a failure, wait this long before the next fetch, doubling up to the cap.
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// A wrong appid or secret will not fix itself: wait longer before asking again.
const BAD_CREDENTIAL_BACKOFF: Duration = Duration::from_secs(60);
const BAD_CREDENTIAL_CAP: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct State {
    token: Option<(Secret, Instant)>,
    /// The file's modification time and length when it was last read.
    file_stamp: Option<(SystemTime, u64)>,
    /// Set after WeChat rejected the cached token: the next stable_token asks for a new one.
    force: bool,
    failures: u32,
    retry_at: Option<(Instant, WechatError)>,
}

pub struct TokenSource {
    credential: Credential,
    state: Mutex<State>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default, deserialize_with = "json::opt_string")]
    access_token: Option<String>,
    #[serde(default, deserialize_with = "json::opt_i64")]
    expires_in: Option<i64>,
}

#[derive(Serialize)]
struct StableTokenRequest<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    force_refresh: bool,
}

impl TokenSource {
    pub fn new(credential: Credential) -> TokenSource {
        TokenSource { credential, state: Mutex::new(State::default()) }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A valid token: the cached one, or a fresh one.
    pub async fn get(&self, transport: &Transport<'_>) -> Result<Secret, WechatError> {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Credential::File(path) = &self.credential {
            return read_file(path, &mut st);
        }
        if let Credential::Platform(p) = &self.credential {
            // The platform's store caches it; nothing to hold here.
            drop(st);
            return p.token().await;
        }
        if let Some((token, refresh_at)) = &st.token
            && now < *refresh_at {
                return Ok(token.clone());
            }
        if let Some((at, cause)) = &st.retry_at
            && now < *at {
                return Err(WechatError::Backoff { wait: *at - now, cause: Box::new(cause.clone()) });
            }
        let force = std::mem::take(&mut st.force);
        match self.fetch(transport, force).await {
            Ok((token, lifetime)) => {
                let margin = REFRESH_MARGIN.min(lifetime / 2);
                st.token = Some((token.clone(), Instant::now() + lifetime - margin));
                st.failures = 0;
                st.retry_at = None;
                transport.telemetry.token_refresh(true);
                Ok(token)
            }
            Err(err) => {
                transport.telemetry.token_refresh(false);
                st.failures += 1;
                let bad = err.errcode().is_some_and(|c| BAD_CREDENTIALS.contains(&c));
                let (start, cap) =
                    if bad { (BAD_CREDENTIAL_BACKOFF, BAD_CREDENTIAL_CAP) } else { (BACKOFF_START, BACKOFF_CAP) };
                let wait = start.saturating_mul(1 << (st.failures - 1).min(16)).min(cap);
                if bad {
                    tracing::error!(
                        app = transport.app,
                        error = %err,
                        retry_in = ?wait,
                        "WeChat rejected the appid or secret; check the config"
                    );
                } else {
                    tracing::warn!(app = transport.app, error = %err, retry_in = ?wait, "access_token fetch failed");
                }
                st.retry_at = Some((Instant::now() + wait, err.clone()));
                Err(err)
            }
        }
    }

    /// WeChat said `bad` is stale. Drop it, unless another caller already replaced it.
    pub async fn invalidate(&self, bad: &Secret) {
        let mut st = self.state.lock().await;
        if st.token.as_ref().is_some_and(|(t, _)| t == bad) {
            st.token = None;
            st.force = true;
        }
        if matches!(self.credential, Credential::File(_)) {
            // Read the file again next time, even if it looks unchanged.
            st.file_stamp = None;
        }
    }

    async fn fetch(&self, transport: &Transport<'_>, force: bool) -> Result<(Secret, Duration), WechatError> {
        let Credential::Secret { appid, secret, mode } = &self.credential else {
            return Err(WechatError::InvalidResponse("no secret to fetch a token with".into()));
        };
        let body: TokenResponse = match mode {
            TokenMode::Stable => {
                let req = StableTokenRequest {
                    grant_type: "client_credential",
                    appid,
                    secret: secret.expose(),
                    force_refresh: force,
                };
                transport.send(&STABLE_TOKEN, None, |r| r.json(&req), &[secret]).await?
            }
            TokenMode::Classic => {
                let query = [("grant_type", "client_credential"), ("appid", appid.as_str()), ("secret", secret.expose())];
                transport.send(&CLASSIC_TOKEN, None, |r| r.query(&query), &[secret]).await?
            }
        };
        let token = body
            .access_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| WechatError::InvalidResponse("token response without access_token".into()))?;
        let expires = body.expires_in.unwrap_or(7200).clamp(60, 86_400);
        Ok((Secret::new(token.trim()), Duration::from_secs(expires as u64)))
    }
}

/// Reads the token file when it is new or changed since the last read.
fn read_file(path: &PathBuf, st: &mut State) -> Result<Secret, WechatError> {
    let err = |detail: String| WechatError::TokenFile { path: path.display().to_string(), detail };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
    if let (Some(old), Some((token, _))) = (&st.file_stamp, &st.token)
        && *old == stamp {
            return Ok(token.clone());
        }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("the file is empty".into()));
    }
    let token = Secret::new(token);
    st.token = Some((token.clone(), Instant::now()));
    st.file_stamp = Some(stamp);
    Ok(token)
}
