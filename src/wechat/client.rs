//! The HTTP side of WeChat: one shared connection pool, a bound on requests in
//! flight, the configured timeout, `errcode` decoding, and the request counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::error::WechatError;
use super::json;
use super::token::{Credential, TokenSource};
use crate::secret::{scrub, Secret};
use crate::telemetry::{AppTelemetry, Live};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A WeChat API: its English name (the `api` label) and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Api {
    pub name: &'static str,
    pub path: &'static str,
    pub method: Method,
    /// Errcodes this API uses for "no data": the collector reads them as an empty
    /// result, so they are not counted as failures.
    pub no_data: &'static [i64],
}

impl Api {
    pub const fn post(name: &'static str, path: &'static str) -> Api {
        Api { name, path, method: Method::Post, no_data: &[] }
    }
    pub const fn get(name: &'static str, path: &'static str) -> Api {
        Api { name, path, method: Method::Get, no_data: &[] }
    }
    pub const fn with_no_data(self, codes: &'static [i64]) -> Api {
        Api { no_data: codes, ..self }
    }

    /// Whether `e` is this API's way of saying "nothing to report".
    pub fn is_no_data(&self, e: &WechatError) -> bool {
        e.errcode().is_some_and(|c| self.no_data.contains(&c))
    }
}

/// Settings shared by every app's calls.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSettings {
    pub base_url: String,
    pub timeout: Duration,
    /// Requests in flight at once, across all apps.
    pub max_in_flight: usize,
}

/// The process-wide client: one reqwest pool for every app.
pub struct WechatClient {
    http: reqwest::Client,
    settings: ClientSettings,
    in_flight: Semaphore,
    live: Arc<Live>,
}

impl WechatClient {
    pub fn new(settings: ClientSettings, live: Arc<Live>) -> Result<WechatClient, WechatError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("wechat-exporter/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(WechatError::from_reqwest)?;
        let permits = settings.max_in_flight.max(1);
        Ok(WechatClient { http, settings, in_flight: Semaphore::new(permits), live })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }
}

/// One app's view of the client, for one call.
pub struct Transport<'a> {
    pub client: &'a WechatClient,
    pub app: &'a str,
    pub telemetry: &'a AppTelemetry,
}

impl Transport<'_> {
    /// Sends one request and decodes its answer. `secrets` are scrubbed from any
    /// text that could reach an error message.
    pub async fn send<T: DeserializeOwned>(
        &self,
        api: &Api,
        token: Option<&Secret>,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
        secrets: &[&Secret],
    ) -> Result<T, WechatError> {
        let result = self.send_inner(api, token, build).await;
        result.map_err(|e| {
            let e = scrub_error(e, secrets);
            if api.is_no_data(&e) {
                return e;
            }
            self.telemetry.failure(api.name, e.reason());
            tracing::debug!(app = self.app, api = api.name, error = %e, "WeChat request failed");
            e
        })
    }

    async fn send_inner<T: DeserializeOwned>(
        &self,
        api: &Api,
        token: Option<&Secret>,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, WechatError> {
        let url = format!("{}{}", self.client.settings.base_url.trim_end_matches('/'), api.path);
        let mut req = match api.method {
            Method::Get => self.client.http.get(url),
            Method::Post => self.client.http.post(url),
        };
        if let Some(token) = token {
            req = req.query(&[("access_token", token.expose())]);
        }
        let req = build(req);
        let _permit = self
            .client
            .in_flight
            .acquire()
            .await
            .map_err(|_| WechatError::Connect("client is shutting down".into()))?;
        self.telemetry.request(api.name);
        let started = Instant::now();
        let result = async {
            let resp = req.send().await.map_err(WechatError::from_reqwest)?;
            let status = resp.status();
            if !status.is_success() {
                return Err(WechatError::Http { status: status.as_u16() });
            }
            resp.bytes().await.map_err(WechatError::from_reqwest)
        }
        .await;
        self.client.live.observe(api.name, started.elapsed());
        decode(&result?)
    }
}

/// Reads a WeChat answer: a non-zero `errcode` is an error whatever else came with it.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WechatError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        WechatError::InvalidResponse(format!("not JSON ({} bytes): {e}", body.len()))
    })?;
    if !value.is_object() {
        return Err(WechatError::InvalidResponse("the answer is not a JSON object".into()));
    }
    let code = json::value_i64(value.get("errcode").or_else(|| value.get("errCode")))
        .map_err(|e| WechatError::InvalidResponse(format!("errcode: {e}")))?
        .unwrap_or(0);
    if code != 0 {
        let msg = value
            .get("errmsg")
            .or_else(|| value.get("errMsg"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        return Err(WechatError::Api { code, msg });
    }
    serde_json::from_value(value).map_err(|e| WechatError::InvalidResponse(e.to_string()))
}

fn scrub_error(e: WechatError, secrets: &[&Secret]) -> WechatError {
    let clean = |s: String| secrets.iter().fold(s, |s, secret| scrub(&s, secret));
    match e {
        WechatError::Api { code, msg } => WechatError::Api { code, msg: clean(msg) },
        WechatError::Connect(s) => WechatError::Connect(clean(s)),
        WechatError::InvalidResponse(s) => WechatError::InvalidResponse(clean(s)),
        other => other,
    }
}

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
    /// APIs whose quota is spent, with when it renews and why we stopped.
    quota: Mutex<HashMap<&'static str, (Instant, WechatError)>>,
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
        match t.send(api, Some(&token), build, &[&token]).await {
            Err(e) if e.is_stale_token() => {
                tracing::debug!(app = &*self.name, api = api.name, error = %e, "token rejected; refreshing once");
                self.tokens.invalidate(&token).await;
                let token = self.tokens.get(&t).await?;
                t.send(api, Some(&token), build, &[&token]).await
            }
            other => other,
        }
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
        let (until, cause) = quota.get(api.name)?;
        let now = Instant::now();
        if now >= *until {
            quota.remove(api.name);
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
        let mut quota = self.quota.lock().unwrap_or_else(|e| e.into_inner());
        quota.insert(api.name, (Instant::now() + wait, cause));
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, api: &Api, body: &B) -> Result<T, WechatError> {
        self.call(api, |r| r.json(body)).await
    }

    pub async fn get<T: DeserializeOwned>(&self, api: &Api, query: &[(&str, String)]) -> Result<T, WechatError> {
        self.call(api, |r| r.query(query)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Row {
        x: i64,
    }

    #[test]
    fn decode_reads_errcodes_in_every_form() {
        let e = decode::<Row>(br#"{"errcode":40001,"errmsg":"invalid credential"}"#).unwrap_err();
        assert!(matches!(e, WechatError::Api { code: 40001, .. }));
        let e = decode::<Row>(br#"{"errcode":"45009","errmsg":"quota"}"#).unwrap_err();
        assert!(matches!(e, WechatError::Api { code: 45009, .. }));
        let e = decode::<Row>(br#"{"errCode":-1}"#).unwrap_err();
        assert_eq!(e.reason(), "errcode_-1");
        assert_eq!(decode::<Row>(br#"{"errcode":0,"x":3}"#).unwrap().x, 3);
        assert_eq!(decode::<Row>(br#"{"x":3}"#).unwrap().x, 3);
        assert_eq!(decode::<Row>(b"<html>502</html>").unwrap_err().reason(), "invalid_response");
        assert_eq!(decode::<Row>(br#"{"x":"#).unwrap_err().reason(), "invalid_response");
        assert_eq!(decode::<Row>(br#"[1]"#).unwrap_err().reason(), "invalid_response");
        assert_eq!(decode::<Row>(br#"{"x":"three"}"#).unwrap_err().reason(), "invalid_response");
    }
}
