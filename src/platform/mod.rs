//! Third-party platforms: a service provider's thousands of authorized mini programs
//! and official accounts, found by asking WeChat (`api_get_authorizer_list`) and
//! polled with the `authorizer_access_token`s the platform itself keeps in Redis.
//!
//! The exporter only reads: it never calls a token API for a platform's apps and
//! never writes to Redis, so it cannot race the platform's own refresher.

pub mod config;
pub mod discovery;
pub mod keys;
pub mod redis;
pub mod runner;
pub mod tokens;

pub use discovery::{Authorizer, ComponentClient, Discovery, DiscoveryError};
pub use keys::{KeyKind, KeyTemplate};
pub use redis::{RedisStore, RedisTarget, StoreError};
pub use tokens::{PlatformCredential, PlatformTokens, TokenError};
pub use runner::{PlatformSettings, Runner, Snapshot};
pub use config::PlatformConfig;

use std::collections::HashSet;
use std::sync::Arc;

use crate::config::{shard_of, AppConfig, PlatformLabels};
use crate::store::Sample;
use crate::wechat::{Credential, WechatClient, WechatError};

/// A discovered app as the scheduler runs it: named by its appid, with its
/// kind's collectors and the platform's token.
pub fn app_config(p: &PlatformConfig, tokens: &Arc<PlatformTokens>, a: &Authorizer) -> AppConfig {
    AppConfig {
        name: Arc::from(a.appid.as_str()),
        appid: a.appid.clone(),
        account: a.account,
        credential: Credential::Platform(PlatformCredential::new(tokens.clone(), &a.appid)),
        collectors: p.collectors(a.account).clone(),
        platform: Some(PlatformLabels { platform: p.settings.name.clone(), nickname: a.nickname.clone() }),
    }
}

/// One discovery, for `--once`: the platform's apps in this shard (less those in
/// `claimed`, which it extends), and the platform's own counters.
pub async fn discover_once(
    p: &PlatformConfig,
    wechat: &Arc<WechatClient>,
    (count, index): (u32, u32),
    claimed: &mut HashSet<String>,
) -> (Result<Vec<AppConfig>, WechatError>, Vec<Sample>) {
    let s = &p.settings;
    let store = match RedisStore::new(s.redis.clone()) {
        Ok(store) => store,
        Err(e) => return (Err(WechatError::TokenUnavailable(e.to_string())), Vec::new()),
    };
    let tokens = Arc::new(PlatformTokens::new(store, &s.component_appid, s.component_key.clone(), s.authorizer_key.clone()));
    let client = Arc::new(ComponentClient::new(s.name.clone(), &s.component_appid, wechat.clone(), tokens.clone()));
    let wanted = move |appid: &str| shard_of(appid, count) == index;
    let result = match Discovery::default().run(&client, &wanted).await {
        Ok(out) => {
            tokens.retain(out.apps.iter().map(|a| a.appid.as_str()));
            let _ = tokens.refresh().await;
            Ok(out.apps.iter().filter(|a| claimed.insert(a.appid.clone())).map(|a| app_config(p, &tokens, a)).collect())
        }
        Err(DiscoveryError::Token(e)) => Err(WechatError::TokenUnavailable(e.to_string())),
        Err(DiscoveryError::Wechat(e)) => Err(e),
    };
    let mut samples = client.telemetry.samples();
    samples.retain(|s| s.desc != crate::telemetry::TOKEN_REFRESHES && s.desc != crate::telemetry::TOKEN_REFRESH_FAILURES);
    (result, samples)
}
