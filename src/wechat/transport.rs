//! The HTTP side of WeChat: one shared connection pool, a bound on requests in
//! flight, the configured timeout, a cap on the answer's size, `errcode` decoding,
//! and the request counters. Below both the token source and the app client, so
//! neither needs the other to send a request.
//!
//! Redirects are never followed and no `Referer` is sent: WeChat's URLs carry the
//! access_token (and, in classic mode, the AppSecret), and a redirect to another
//! host would hand them over, or re-post the secret in a stable_token body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::error::WechatError;
use super::json;
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

/// WeChat's largest answers (a realtime log page, a month of daily rows) are a few
/// hundred KB; 4 MiB leaves room and still bounds what 32 requests in flight can hold.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Settings shared by every app's calls.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSettings {
    pub base_url: String,
    pub timeout: Duration,
    /// Requests in flight at once, across all apps.
    pub max_in_flight: usize,
    /// The largest answer read; a longer one fails as `too_large` before it is parsed.
    pub max_response_bytes: usize,
}

impl Default for ClientSettings {
    fn default() -> ClientSettings {
        ClientSettings {
            base_url: "https://api.weixin.qq.com".into(),
            timeout: Duration::from_secs(10),
            max_in_flight: 32,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
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
        let permits = settings.max_in_flight.max(1);
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("wechat-exporter/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            // No more requests than permits are ever in flight, so more idle connections
            // than that are never needed; without a cap, connects raced against returning
            // connections pile up idle ones.
            .pool_max_idle_per_host(permits)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(WechatError::from_reqwest)?;
        Ok(WechatClient { http, settings, in_flight: Semaphore::new(permits), live })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// A view for calls made outside an app's client (a platform's own calls).
    pub fn transport<'a>(&'a self, app: &'a str, telemetry: &'a AppTelemetry) -> Transport<'a> {
        Transport { client: self, app, telemetry }
    }
}

/// One app's view of the client, for one call.
pub struct Transport<'a> {
    pub(super) client: &'a WechatClient,
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
            // The errcode itself is here even when the `reason` label says errcode_other.
            tracing::debug!(app = self.app, api = api.name, errcode = e.errcode(), error = %e, "WeChat request failed");
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
            if status.is_redirection() {
                return Err(WechatError::Redirect { status: status.as_u16() });
            }
            if !status.is_success() {
                return Err(WechatError::Http { status: status.as_u16() });
            }
            read_body(resp, self.client.settings.max_response_bytes).await
        }
        .await;
        self.client.live.observe(api.name, started.elapsed());
        decode(&result?)
    }
}

/// Reads an answer of at most `limit` bytes, chunk by chunk, so a huge one is
/// refused when it passes the limit rather than after it was all held.
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, WechatError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(WechatError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(8 * 1024, |n| n as usize));
    while let Some(chunk) = resp.chunk().await.map_err(WechatError::from_reqwest)? {
        if body.len() + chunk.len() > limit {
            return Err(WechatError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
