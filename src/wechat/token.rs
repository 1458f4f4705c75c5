//! access_tokens: fetched with `stable_token` (default) or the classic `/cgi-bin/token`,
//! or read from a file that another service keeps fresh.
//!
//! A token is cached until shortly before it expires. The cache sits behind an
//! async mutex held across the fetch, so when many collectors of one app want a
//! token at once, the first fetches and the rest wait and take its result: one
//! request, however many callers.
//!
//! A token WeChat calls invalid is replaced only as often as [`RefreshBudget`]
//! allows: each forced replacement invalidates the token every other service of the
//! app holds. An expired one is simply fetched again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::error::{WechatError, BAD_CREDENTIALS};
use super::json;
use super::refresh_budget::RefreshBudget;
use super::transport::{Api, Transport};
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
    /// Set after WeChat rejected the cached token: the next fetch replaces it.
    stale: bool,
    /// ... and, with stable_token, asks WeChat for a new one (`force_refresh`).
    force: bool,
    /// The cached token replaced a rejected one, and WeChat has not taken it yet.
    unproven: bool,
    budget: RefreshBudget,
    /// Whether the operator has been told that replacing a rejected token must wait.
    wait_logged: bool,
    failures: u32,
    /// Boxed: set only after a failed fetch, and a `WechatError` inline would take
    /// 64 bytes in every app's client.
    retry_at: Option<Box<(Instant, WechatError)>>,
}

pub struct TokenSource {
    credential: Credential,
    state: Mutex<State>,
    /// Set while a forced token is unproven or the refresh budget is backing off, so
    /// that a token that works settles both without every successful call taking the lock.
    unsettled: AtomicBool,
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
        TokenSource { credential, state: Mutex::new(State::default()), unsettled: AtomicBool::new(false) }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A valid token: the cached one, or a fresh one.
    pub async fn get(&self, transport: &Transport<'_>) -> Result<Secret, WechatError> {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Credential::File(path) = &self.credential {
            return read_file(path, &mut st).await;
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
        if let Some((at, cause)) = st.retry_at.as_deref()
            && now < *at {
                return Err(WechatError::Backoff { wait: *at - now, cause: Box::new(cause.clone()) });
            }
        let force = std::mem::take(&mut st.force);
        let stale = std::mem::take(&mut st.stale);
        match self.fetch(transport, force).await {
            Ok((token, lifetime)) => {
                let margin = REFRESH_MARGIN.min(lifetime / 2);
                st.token = Some((token.clone(), Instant::now() + lifetime - margin));
                st.unproven = stale;
                if stale {
                    self.unsettled.store(true, Ordering::Relaxed);
                }
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
                st.retry_at = Some(Box::new((Instant::now() + wait, err.clone())));
                Err(err)
            }
        }
    }

    /// WeChat said `bad` is stale (`expired`: errcode 42001). Returns whether a call
    /// may be retried at once with another token: one already fetched by another
    /// caller, the token file read again, or a new one. An expired token is replaced
    /// by a plain fetch, which takes nobody's token away. One WeChat calls invalid is
    /// replaced (with `force_refresh`) only as the refresh budget allows, and so is one
    /// that replaced a rejected token and was rejected before it ever worked. Otherwise
    /// the caller's call fails, and `bad` stays until a replacement is allowed.
    pub async fn invalidate(&self, app: &str, bad: &Secret, expired: bool) -> bool {
        let mut st = self.state.lock().await;
        if matches!(self.credential, Credential::File(_)) {
            // Read the file again next time, even if it looks unchanged.
            st.file_stamp = None;
            return true;
        }
        if !st.token.as_ref().is_some_and(|(t, _)| t == bad) {
            return true;
        }
        let unproven = std::mem::take(&mut st.unproven);
        if unproven {
            // A token that survived a refresh: the next one waits longer.
            st.budget.futile();
            self.unsettled.store(true, Ordering::Relaxed);
        }
        let allowed = if expired && !unproven { Ok(()) } else { st.budget.take(Instant::now()) };
        match allowed {
            Ok(()) => {
                st.token = None;
                st.stale = true;
                st.force = !expired;
                st.wait_logged = false;
                true
            }
            Err(wait) => {
                let wait = Duration::from_secs(wait.as_secs() + 1);
                if !std::mem::replace(&mut st.wait_logged, true) {
                    tracing::warn!(
                        app,
                        retry_in = %humantime::format_duration(wait),
                        "WeChat rejected the access_token again; a new one is asked for at most every 30s \
                         (longer while new ones are rejected too) and 20 times a day"
                    );
                }
                false
            }
        }
    }

    /// WeChat took the token: a forced one is proven, and a backing-off refresh
    /// budget starts over.
    pub async fn worked(&self) {
        if self.unsettled.swap(false, Ordering::Relaxed) {
            let mut st = self.state.lock().await;
            st.budget.worked();
            st.unproven = false;
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

/// Reads the token file when it is new or changed since the last read, off the
/// async workers and within the secret reader's size and time limits.
async fn read_file(path: &Path, st: &mut State) -> Result<Secret, WechatError> {
    let err = |detail: String| WechatError::TokenFile { path: path.display().to_string(), detail };
    let meta = tokio::fs::metadata(path).await.map_err(|e| err(e.to_string()))?;
    let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
    if let (Some(old), Some((token, _))) = (&st.file_stamp, &st.token)
        && *old == stamp {
            return Ok(token.clone());
        }
    let owned = path.to_path_buf();
    let text = tokio::task::spawn_blocking(move || crate::secret::read_file(&owned))
        .await
        .map_err(|_| err("the read was cancelled".into()))?
        .map_err(|e| WechatError::TokenFile { path: path.display().to_string(), detail: e.to_string() })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("the file is empty".into()));
    }
    let token = Secret::new(token);
    st.token = Some((token.clone(), Instant::now()));
    st.file_stamp = Some(stamp);
    Ok(token)
}
