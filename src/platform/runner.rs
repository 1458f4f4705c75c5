//! One platform at work: a task that discovers the authorizers every `discover`
//! interval and re-reads all their tokens every minute in between, and publishes
//! what it found for the scheduler to poll.
//!
//! A discovery that fails publishes nothing new: the last list stays, and the next
//! attempt comes soon (5 s, doubling up to the `discover` interval), so a platform
//! recovers by itself shortly after Redis or WeChat does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::discovery::{Authorizer, ComponentClient, Discovery};
use super::keys::KeyTemplate;
use super::redis::{RedisStore, RedisTarget, StoreError};
use super::tokens::PlatformTokens;
use crate::wechat::WechatClient;

/// Every kept token is read again this often (one `MGET` per 500 apps).
pub const TOKEN_REFRESH: Duration = Duration::from_secs(60);
/// After a failed discovery the next comes after this, doubling up to `discover`.
const RETRY_START: Duration = Duration::from_secs(5);
/// After a failed token refresh, the next comes after this.
const REFRESH_RETRY: Duration = Duration::from_secs(5);

/// A platform's checked settings, as the config gives them.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformSettings {
    pub name: Arc<str>,
    pub component_appid: String,
    pub redis: RedisTarget,
    pub component_key: KeyTemplate,
    pub authorizer_key: KeyTemplate,
    pub discover: Duration,
}

/// What a platform has found so far.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The apps of the last successful discovery; `None` before the first.
    pub apps: Option<Arc<Vec<Arc<Authorizer>>>>,
    /// Discoveries tried, and whether the last one succeeded.
    pub attempts: u64,
    pub up: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A running platform: its tokens, its own client, and its discovery task.
pub struct Runner {
    pub settings: PlatformSettings,
    pub tokens: Arc<PlatformTokens>,
    pub client: Arc<ComponentClient>,
    snapshot: watch::Receiver<Snapshot>,
    handle: JoinHandle<()>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Which appids this exporter polls (its shard's).
pub type Wanted = Arc<dyn Fn(&str) -> bool + Send + Sync>;

impl Runner {
    /// Starts the platform's task. Nothing is connected yet: Redis is first asked
    /// by the first discovery, so a Redis that is down at start costs only data.
    pub fn start(settings: PlatformSettings, wechat: Arc<WechatClient>, wanted: Wanted, clock: crate::scheduler::Clock) -> Result<Runner, StoreError> {
        let store = RedisStore::new(settings.redis.clone())?;
        let tokens = Arc::new(PlatformTokens::new(
            store,
            &settings.component_appid,
            settings.component_key.clone(),
            settings.authorizer_key.clone(),
        ));
        let client = Arc::new(ComponentClient::new(settings.name.clone(), &settings.component_appid, wechat, tokens.clone()));
        let (tx, rx) = watch::channel(Snapshot::default());
        let task = Task { client: client.clone(), tokens: tokens.clone(), discover: settings.discover, wanted, clock, tx };
        let handle = tokio::spawn(task.run());
        Ok(Runner { settings, tokens, client, snapshot: rx, handle })
    }

    /// What the platform has found; changes after every discovery.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }
}

struct Task {
    client: Arc<ComponentClient>,
    tokens: Arc<PlatformTokens>,
    discover: Duration,
    wanted: Wanted,
    clock: crate::scheduler::Clock,
    tx: watch::Sender<Snapshot>,
}

impl Task {
    async fn run(self) {
        let name = self.client.name.clone();
        let mut discovery = Discovery::default();
        let mut failures: u32 = 0;
        loop {
            let result = discovery.run(&self.client, &*self.wanted).await;
            let now = (self.clock)();
            let wait = match result {
                Ok(out) => {
                    failures = 0;
                    self.tokens.retain(out.apps.iter().map(|a| a.appid.as_str()));
                    // All tokens in a few MGETs now, rather than one GET per app at its first poll.
                    if let Ok((_, missing)) = self.tokens.refresh().await
                        && missing > 0
                    {
                        tracing::warn!(platform = &*name, apps = missing, "no token in Redis for some apps; they are token_unavailable until the platform writes one");
                    }
                    let apps = Arc::new(out.apps);
                    let (new, gone) = self.changes(&apps);
                    tracing::info!(
                        platform = &*name,
                        listed = out.listed,
                        apps = apps.len(),
                        new,
                        gone,
                        unknown = out.unknown,
                        "authorizers discovered"
                    );
                    self.tx.send_modify(|s| {
                        s.apps = Some(apps);
                        s.attempts += 1;
                        s.up = true;
                        s.last_success = Some(now);
                        s.last_error = None;
                    });
                    self.discover
                }
                Err(e) => {
                    failures += 1;
                    let wait = RETRY_START.saturating_mul(1 << (failures - 1).min(16)).min(self.discover);
                    tracing::warn!(
                        platform = &*name,
                        reason = %e.reason(),
                        error = %e,
                        retry_in = %humantime::format_duration(wait),
                        "discovery failed; the last list of apps stays"
                    );
                    self.tx.send_modify(|s| {
                        s.attempts += 1;
                        s.up = false;
                        s.last_error = Some(e.to_string());
                    });
                    wait
                }
            };
            self.between(Instant::now() + wait).await;
        }
    }

    /// Re-reads the tokens every [`TOKEN_REFRESH`] until `until`.
    async fn between(&self, until: Instant) {
        let mut next = Instant::now() + TOKEN_REFRESH;
        while next < until {
            tokio::time::sleep_until(next).await;
            next = match self.tokens.refresh().await {
                Ok(_) => Instant::now() + TOKEN_REFRESH,
                Err(_) => Instant::now() + REFRESH_RETRY,
            };
        }
        tokio::time::sleep_until(until).await;
    }

    fn changes(&self, apps: &[Arc<Authorizer>]) -> (usize, usize) {
        let before = self.tx.borrow();
        let Some(old) = &before.apps else { return (apps.len(), 0) };
        let old: HashSet<&str> = old.iter().map(|a| a.appid.as_str()).collect();
        let now: HashSet<&str> = apps.iter().map(|a| a.appid.as_str()).collect();
        (now.difference(&old).count(), old.difference(&now).count())
    }
}
