//! Which apps a platform holds: `api_get_authorizer_list`, 500 at a time until
//! `total_count`, and for each app not seen before, `api_get_authorizer_info` once,
//! for its kind (an `authorizer_info` with `MiniProgramInfo` is a mini program) and
//! its nickname.
//!
//! Both APIs take the platform's component_access_token, read from Redis. A list
//! that cannot be read whole changes nothing: the caller keeps the last one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::tokens::{PlatformTokens, TokenError};
use crate::collectors::Account;
use crate::secret::Secret;
use crate::telemetry::AppTelemetry;
use crate::wechat::transport::Transport;
use crate::wechat::json;
use crate::wechat::{Api, WechatClient, WechatError};

pub const AUTHORIZER_LIST: Api = Api::post("api_get_authorizer_list", "/cgi-bin/component/api_get_authorizer_list");
pub const AUTHORIZER_INFO: Api = Api::post("api_get_authorizer_info", "/cgi-bin/component/api_get_authorizer_info");

/// WeChat's largest page of authorizers.
pub const PAGE: u64 = 500;
/// A `total_count` beyond this is not believed: the listing stops here rather than
/// paging for ever through a broken answer.
pub const MAX_AUTHORIZERS: u64 = 200_000;
/// `api_get_authorizer_info` calls in flight at once while learning new apps.
const INFO_CONCURRENCY: usize = 8;

/// The `reason` label of a call that had no usable token.
pub const TOKEN_UNAVAILABLE: &str = "token_unavailable";

/// Why a discovery (or one call of it) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    #[error("component_access_token unavailable: {0}")]
    Token(#[from] TokenError),
    #[error(transparent)]
    Wechat(#[from] WechatError),
}

impl DiscoveryError {
    /// The `reason` label, as `wechat_exporter_api_failures_total` has it.
    pub fn reason(&self) -> String {
        match self {
            DiscoveryError::Token(_) => TOKEN_UNAVAILABLE.into(),
            DiscoveryError::Wechat(e) => e.reason(),
        }
    }
}

/// An authorized app, as discovery learned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorizer {
    pub appid: String,
    pub account: Account,
    pub nickname: String,
}

/// The platform's own calls to WeChat, with its component token and its counters
/// (under the platform's name as `app`).
pub struct ComponentClient {
    pub name: Arc<str>,
    pub component_appid: String,
    client: Arc<WechatClient>,
    tokens: Arc<PlatformTokens>,
    pub telemetry: AppTelemetry,
    /// The component token of the discovery under way: read once, not once per call.
    current: std::sync::Mutex<Option<Secret>>,
}

impl ComponentClient {
    pub fn new(name: Arc<str>, component_appid: &str, client: Arc<WechatClient>, tokens: Arc<PlatformTokens>) -> ComponentClient {
        ComponentClient {
            name,
            component_appid: component_appid.to_string(),
            client,
            tokens,
            telemetry: AppTelemetry::default(),
            current: std::sync::Mutex::default(),
        }
    }

    /// Drops the cached component token: the next call reads Redis again.
    pub fn forget_token(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    async fn token(&self) -> Result<Secret, TokenError> {
        if let Some(t) = self.current.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(t);
        }
        let t = self.tokens.component().await?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
        Ok(t)
    }

    pub fn tokens(&self) -> &Arc<PlatformTokens> {
        &self.tokens
    }

    /// Calls a component API. A token WeChat calls stale is read again from Redis and
    /// the call made once more, with the new one; never refreshed.
    pub async fn post<B: Serialize + Sync, T: DeserializeOwned>(&self, api: &Api, body: &B) -> Result<T, DiscoveryError> {
        let t = self.client.transport(&self.name, &self.telemetry);
        let result = async {
            let token = self.token().await?;
            match send(&t, api, &token, body).await {
                Err(e) if e.is_stale_token() => {
                    tracing::debug!(platform = &*self.name, api = api.name, error = %e, "component_access_token refused; reading it again from Redis");
                    self.forget_token();
                    let fresh = self.tokens.component_reread().await?;
                    match send(&t, api, &fresh, body).await {
                        Err(e) if e.is_stale_token() => Err(DiscoveryError::Token(self.tokens.component_refused(&fresh))),
                        other => {
                            *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
                            Ok(other?)
                        }
                    }
                }
                other => Ok(other?),
            }
        }
        .await;
        if let Err(DiscoveryError::Token(_)) = &result {
            self.telemetry.failure(api.name, TOKEN_UNAVAILABLE.into());
        }
        result
    }
}

async fn send<B: Serialize + Sync, T: DeserializeOwned>(
    t: &Transport<'_>,
    api: &Api,
    token: &Secret,
    body: &B,
) -> Result<T, WechatError> {
    t.send(api, None, |r| r.query(&[("component_access_token", token.expose())]).json(body), &[token]).await
}

#[derive(Serialize)]
struct ListRequest<'a> {
    component_appid: &'a str,
    offset: u64,
    count: u64,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default, deserialize_with = "json::opt_i64")]
    total_count: Option<i64>,
    #[serde(default = "Vec::new", deserialize_with = "json::list")]
    list: Vec<ListItem>,
}

/// An entry of the list. Its `refresh_token` is left unread: it is the platform's
/// secret, and the exporter has no use for it.
#[derive(Deserialize)]
struct ListItem {
    #[serde(default, deserialize_with = "json::opt_string")]
    authorizer_appid: Option<String>,
}

#[derive(Serialize)]
struct InfoRequest<'a> {
    component_appid: &'a str,
    authorizer_appid: &'a str,
}

#[derive(Deserialize)]
struct InfoResponse {
    authorizer_info: Option<AuthorizerInfo>,
}

#[derive(Deserialize)]
struct AuthorizerInfo {
    #[serde(default, deserialize_with = "json::opt_string")]
    nick_name: Option<String>,
    #[serde(default, rename = "MiniProgramInfo")]
    mini_program_info: Option<serde::de::IgnoredAny>,
}

/// Lists every authorizer's appid, in WeChat's order, each once.
pub async fn list(client: &ComponentClient) -> Result<Vec<String>, DiscoveryError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = 0;
    loop {
        let req = ListRequest { component_appid: &client.component_appid, offset, count: PAGE };
        let page: ListPage = client.post(&AUTHORIZER_LIST, &req).await?;
        let got = page.list.len() as u64;
        for item in page.list {
            if let Some(id) = item.authorizer_appid.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
                && seen.insert(id.clone())
            {
                out.push(id);
            }
        }
        offset += PAGE;
        // Without a total_count, a short page is the last one.
        let more = match page.total_count {
            Some(total) => offset < total.max(0) as u64,
            None => got == PAGE,
        };
        if !more || got == 0 {
            break;
        }
        if offset >= MAX_AUTHORIZERS {
            tracing::warn!(platform = &*client.name, total = page.total_count, "more authorizers than the exporter lists ({MAX_AUTHORIZERS}); the rest are left out");
            break;
        }
    }
    Ok(out)
}

/// One app's kind and nickname.
pub async fn info(client: &ComponentClient, appid: &str) -> Result<Authorizer, DiscoveryError> {
    let req = InfoRequest { component_appid: &client.component_appid, authorizer_appid: appid };
    let resp: InfoResponse = client.post(&AUTHORIZER_INFO, &req).await?;
    let info = resp
        .authorizer_info
        .ok_or_else(|| WechatError::InvalidResponse("api_get_authorizer_info without authorizer_info".into()))?;
    let account = if info.mini_program_info.is_some() { Account::Miniprogram } else { Account::OfficialAccount };
    Ok(Authorizer { appid: appid.to_string(), account, nickname: info.nick_name.unwrap_or_default() })
}

/// What one discovery found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The apps to poll, in the list's order.
    pub apps: Vec<Arc<Authorizer>>,
    /// How many appids the list held (before any filter).
    pub listed: usize,
    /// Apps learned with `api_get_authorizer_info` this time.
    pub learned: usize,
    /// Apps left out because their info could not be read (tried again next time).
    pub unknown: usize,
}

/// A platform's discovery, with what it learned so far: an app's kind and
/// nickname are asked once, while it stays listed.
#[derive(Default)]
pub struct Discovery {
    known: HashMap<String, Arc<Authorizer>>,
}

impl Discovery {
    /// Lists the authorizers and learns the new ones among those `wanted` (this
    /// shard's). Fails as a whole when the list cannot be read whole, or when the
    /// component token fails while learning.
    pub async fn run(&mut self, client: &Arc<ComponentClient>, wanted: &(dyn Fn(&str) -> bool + Sync)) -> Result<Outcome, DiscoveryError> {
        // One read of the component token per discovery, however many calls it makes.
        client.forget_token();
        let listed = list(client).await?;
        let mine: Vec<String> = listed.iter().filter(|a| wanted(a)).cloned().collect();
        let new: Vec<String> = mine.iter().filter(|a| !self.known.contains_key(*a)).cloned().collect();

        let mut learned = HashMap::new();
        let mut unknown = 0;
        if !new.is_empty() {
            let gate = Arc::new(Semaphore::new(INFO_CONCURRENCY));
            let mut tasks = JoinSet::new();
            for appid in new {
                let (client, gate) = (client.clone(), gate.clone());
                tasks.spawn(async move {
                    let _permit = gate.acquire_owned().await;
                    let result = info(&client, &appid).await;
                    (appid, result)
                });
            }
            let mut token_failure = None;
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok((_, Ok(a))) => {
                        learned.insert(a.appid.clone(), Arc::new(a));
                    }
                    Ok((_, Err(e @ DiscoveryError::Token(_)))) => {
                        token_failure.get_or_insert(e);
                        tasks.abort_all();
                    }
                    Ok((appid, Err(e))) => {
                        unknown += 1;
                        tracing::debug!(platform = &*client.name, appid, reason = %e.reason(), error = %e, "api_get_authorizer_info failed; trying again at the next discovery");
                    }
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => {
                        unknown += 1;
                        tracing::warn!(platform = &*client.name, error = %e, "api_get_authorizer_info task failed");
                    }
                }
            }
            if let Some(e) = token_failure {
                return Err(e);
            }
        }
        let learned_count = learned.len();
        // Apps no longer listed are forgotten: one that comes back is asked again.
        let mut known = HashMap::with_capacity(mine.len());
        let mut apps = Vec::with_capacity(mine.len());
        for appid in &mine {
            let found = self.known.remove(appid).or_else(|| learned.remove(appid));
            if let Some(a) = found {
                apps.push(a.clone());
                known.insert(appid.clone(), a);
            }
        }
        self.known = known;
        Ok(Outcome { apps, listed: listed.len(), learned: learned_count, unknown })
    }

    /// The apps as of the last successful discovery.
    pub fn known(&self) -> impl Iterator<Item = &Arc<Authorizer>> {
        self.known.values()
    }
}
