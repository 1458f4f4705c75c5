//! One app's calls to WeChat: a token for each, one refresh when WeChat calls the
//! token stale, retries when WeChat is busy, and a pause when a quota is spent.
//! The sending itself is [`super::transport`]'s.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{WechatError, TOKEN_EXPIRED};
use super::token::{Credential, TokenSource};
use super::transport::{Api, Transport, WechatClient};
use crate::telemetry::AppTelemetry;

// Collectors and their tests read answers with `client::decode`.
pub use super::transport::decode;

/// errcode -1 (system busy) is retried within the call this many times more,
/// waiting `BUSY_BASE` doubled each time, plus jitter.
const BUSY_RETRIES: u32 = 3;
const BUSY_BASE: Duration = Duration::from_millis(200);

/// Quota errors: the API answers nothing until the quota renews.
pub const DAILY_QUOTA: i64 = 45009;
pub const MINUTE_QUOTA: i64 = 45011;

/// One app's client: its tokens and counters over the shared pool.
pub struct AppClient {
    pub name: Arc<str>,
    client: Arc<WechatClient>,
    tokens: TokenSource,
    pub telemetry: AppTelemetry,
    /// APIs whose quota is spent, with when it renews and why we stopped. Mostly
    /// empty, at most a few: a list, smaller than a map in each of 10,000 apps.
    quota: Mutex<Vec<(&'static str, Instant, WechatError)>>,
}

impl AppClient {
    pub fn new(name: Arc<str>, client: Arc<WechatClient>, credential: Credential) -> AppClient {
        AppClient {
            name,
            client,
            tokens: TokenSource::new(credential),
            telemetry: AppTelemetry::default(),
            quota: Mutex::default(),
        }
    }

    pub fn credential(&self) -> &Credential {
        self.tokens.credential()
    }

    pub fn shared(&self) -> &Arc<WechatClient> {
        &self.client
    }

    fn transport(&self) -> Transport<'_> {
        Transport { client: &self.client, app: &self.name, telemetry: &self.telemetry }
    }

    /// Calls `api` with a token. A token WeChat calls stale is refreshed once and the
    /// call made once more; "system busy" is retried a few times with backoff; a spent
    /// quota stops calls to that API until it renews.
    pub async fn call<T: DeserializeOwned>(
        &self,
        api: &Api,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, WechatError> {
        if let Some(wait) = self.quota_wait(api) {
            return Err(wait);
        }
        let mut busy = 0;
        loop {
            let result = self.call_with_token(api, &build).await;
            match &result {
                Err(e) if e.errcode() == Some(-1) && busy < BUSY_RETRIES => {
                    let wait = BUSY_BASE * 2u32.pow(busy);
                    let wait = wait + Duration::from_millis(fastrand::u64(0..=wait.as_millis() as u64 / 2));
                    busy += 1;
                    tracing::debug!(app = &*self.name, api = api.name, retry_in = ?wait, "WeChat is busy (-1); retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) if matches!(e.errcode(), Some(DAILY_QUOTA | MINUTE_QUOTA)) => {
                    self.quota_spent(api, e.clone());
                    return result;
                }
                _ => return result,
            }
        }
    }

    async fn call_with_token<T: DeserializeOwned>(
        &self,
        api: &Api,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, WechatError> {
        if let Credential::Platform(p) = self.tokens.credential() {
            let result = self.call_with_platform_token(p, api, build).await;
            if let Err(WechatError::TokenUnavailable(_)) = &result {
                // Counted here: no request may have gone out at all.
                self.telemetry.failure(api.name, "token_unavailable".into());
            }
            return result;
        }
        let t = self.transport();
        let token = self.tokens.get(&t).await?;
        let result = match t.send(api, Some(&token), build, &[&token]).await {
            Err(e) if e.is_stale_token() => {
                let expired = e.errcode() == Some(TOKEN_EXPIRED);
                if !self.tokens.invalidate(&self.name, &token, expired).await {
                    // Too soon for another new token: this call fails, nothing more.
                    return Err(e);
                }
                tracing::debug!(app = &*self.name, api = api.name, error = %e, "token rejected; refreshing once");
                let token = self.tokens.get(&t).await?;
                t.send(api, Some(&token), build, &[&token]).await
            }
            other => other,
        };
        // An answer other than "stale token" means WeChat took the token.
        let accepted = match &result {
            Ok(_) => true,
            Err(e) => e.errcode().is_some() && !e.is_stale_token(),
        };
        if accepted {
            self.tokens.worked().await;
        }
        result
    }

    /// A platform's app: the token from the platform's Redis. One WeChat calls stale
    /// is read again from Redis (never refreshed) and the call made once more; if
    /// that is refused too, the token is `token_unavailable` until Redis changes.
    async fn call_with_platform_token<T: DeserializeOwned>(
        &self,
        p: &crate::platform::PlatformCredential,
        api: &Api,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, WechatError> {
        let t = self.transport();
        let token = p.token().await?;
        match t.send(api, Some(&token), build, &[&token]).await {
            Err(e) if e.is_stale_token() => {
                tracing::debug!(app = &*self.name, api = api.name, error = %e, "token refused; reading it again from the platform's Redis");
                let fresh = p.reread().await?;
                match t.send(api, Some(&fresh), build, &[&token, &fresh]).await {
                    Err(e) if e.is_stale_token() => Err(p.refused(&fresh)),
                    other => other,
                }
            }
            other => other,
        }
    }

    fn quota_wait(&self, api: &Api) -> Option<WechatError> {
        let mut quota = self.quota.lock().unwrap_or_else(|e| e.into_inner());
        let i = quota.iter().position(|(name, _, _)| *name == api.name)?;
        let (_, until, cause) = &quota[i];
        let now = Instant::now();
        if now >= *until {
            quota.swap_remove(i);
            if quota.is_empty() {
                // Kept for the app's life: no room left over once every quota renewed.
                quota.shrink_to_fit();
            }
            tracing::info!(app = &*self.name, api = api.name, "quota renewed; calling again");
            return None;
        }
        Some(WechatError::Backoff { wait: *until - now, cause: Box::new(cause.clone()) })
    }

    /// Stops calls to `api` until its quota renews: the next minute for 45011,
    /// the next day in UTC+8 for 45009. Said once in the log, when it starts.
    fn quota_spent(&self, api: &Api, cause: WechatError) {
        let now = chrono::Utc::now();
        let wait = match cause.errcode() {
            Some(DAILY_QUOTA) => {
                let next_day = crate::cst::day_start(crate::cst::today(now) + chrono::Duration::days(1));
                Duration::from_secs((next_day - now.timestamp()).max(1) as u64)
            }
            _ => Duration::from_secs(60 - u64::from(chrono::Timelike::second(&now)).min(59)),
        };
        tracing::warn!(
            app = &*self.name,
            api = api.name,
            reason = %cause.reason(),
            retry_in = %humantime::format_duration(Duration::from_secs(wait.as_secs())),
            "WeChat quota reached; pausing calls to this API until it renews"
        );
        let until = Instant::now() + wait;
        let mut quota = self.quota.lock().unwrap_or_else(|e| e.into_inner());
        match quota.iter_mut().find(|(name, _, _)| *name == api.name) {
            Some(spent) => *spent = (api.name, until, cause),
            None => quota.push((api.name, until, cause)),
        }
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, api: &Api, body: &B) -> Result<T, WechatError> {
        self.call(api, |r| r.json(body)).await
    }

    pub async fn get<T: DeserializeOwned>(&self, api: &Api, query: &[(&str, String)]) -> Result<T, WechatError> {
        self.call(api, |r| r.query(query)).await
    }
}
