//! A platform's tokens, as its own service keeps them in Redis. Read, never made:
//! the exporter calls none of WeChat's token APIs for a platform's apps and writes
//! nothing to Redis, so it can never race the platform's refresher.
//!
//! Every app's token is cached here and re-read in one `MGET` per 500 apps at each
//! [`PlatformTokens::refresh`], so 10,000 apps cost Redis 20 commands a round, not one
//! per WeChat call. A token WeChat refuses is re-read at once with `GET`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::keys::KeyTemplate;
use super::redis::{token_value, RedisStore, StoreError};
use crate::secret::Secret;
use crate::wechat::WechatError;

/// Why there is no token to call WeChat with: `reason="token_unavailable"`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Redis(#[from] StoreError),
    #[error("no token in Redis under {key}")]
    Missing { key: String },
    #[error("WeChat refused the token in Redis under {key}, and Redis holds no newer one yet")]
    Refused { key: String },
}

#[derive(Clone, Debug)]
enum Entry {
    /// Not read yet: read at the first call.
    Unread,
    Token(Secret),
    Missing,
    /// WeChat refused this token and Redis still held it when read again: it is not
    /// sent again, and each call reads Redis until the platform replaces it.
    Refused(Secret),
}

#[derive(Default)]
struct State {
    apps: HashMap<String, Entry>,
    /// The last Redis failure, cleared by the next success. While it is set, every
    /// call reads Redis itself, so a Redis that is down shows at once and one that is
    /// back is used at once.
    down: Option<StoreError>,
    component_refused: Option<Secret>,
}

pub struct PlatformTokens {
    store: RedisStore,
    component_appid: String,
    component_key: KeyTemplate,
    authorizer_key: KeyTemplate,
    state: Mutex<State>,
}

impl PlatformTokens {
    pub fn new(store: RedisStore, component_appid: &str, component_key: KeyTemplate, authorizer_key: KeyTemplate) -> PlatformTokens {
        PlatformTokens {
            store,
            component_appid: component_appid.to_string(),
            component_key,
            authorizer_key,
            state: Mutex::default(),
        }
    }

    pub fn store(&self) -> &RedisStore {
        &self.store
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Redis key of an app's token.
    pub fn authorizer_key(&self, appid: &str) -> String {
        self.authorizer_key.render(&self.component_appid, appid)
    }

    pub fn component_key(&self) -> String {
        self.component_key.render(&self.component_appid, "")
    }

    /// Whether the last call to Redis failed.
    pub fn redis_down(&self) -> Option<StoreError> {
        self.state().down.clone()
    }

    fn note<T>(&self, result: &Result<T, StoreError>) {
        let mut st = self.state();
        match result {
            Ok(_) => {
                if st.down.take().is_some() {
                    tracing::info!(redis = self.store.target().shown(), "Redis is reachable again");
                }
            }
            Err(e) => {
                if st.down.is_none() {
                    tracing::warn!(error = %e, "Redis is unreachable; the platform's apps keep their last values until it is back");
                }
                st.down = Some(e.clone());
            }
        }
    }

    /// Makes the set of apps whose tokens are kept exactly `appids`: new ones are
    /// read at their first call or the next refresh, departed ones forgotten.
    pub fn retain<'a>(&self, appids: impl IntoIterator<Item = &'a str>) {
        let mut st = self.state();
        let mut next = HashMap::new();
        for id in appids {
            let entry = st.apps.remove(id).unwrap_or(Entry::Unread);
            next.insert(id.to_string(), entry);
        }
        st.apps = next;
    }

    /// An app's token: the cached one, or read from Redis when there is none to trust.
    pub async fn authorizer(&self, appid: &str) -> Result<Secret, TokenError> {
        let refused = {
            let st = self.state();
            match st.apps.get(appid) {
                Some(Entry::Token(t)) if st.down.is_none() => return Ok(t.clone()),
                Some(Entry::Refused(t)) => Some(t.clone()),
                _ => None,
            }
        };
        self.read_one(appid, refused).await
    }

    /// WeChat refused a token: read the app's token again from Redis, whatever is
    /// cached. It may be the same one, if the platform has not replaced it yet.
    pub async fn reread(&self, appid: &str) -> Result<Secret, TokenError> {
        self.read_one(appid, None).await
    }

    /// WeChat refused `token` twice: it is not sent again until Redis holds another.
    pub fn refused(&self, appid: &str, token: &Secret) -> TokenError {
        let mut st = self.state();
        if let Some(slot) = st.apps.get_mut(appid) {
            *slot = Entry::Refused(token.clone());
        }
        TokenError::Refused { key: self.authorizer_key(appid) }
    }

    async fn read_one(&self, appid: &str, refused: Option<Secret>) -> Result<Secret, TokenError> {
        let key = self.authorizer_key(appid);
        let result = self.store.get(&key).await;
        self.note(&result);
        let value = result?.as_deref().and_then(token_value);
        let (entry, out) = match (value, refused) {
            (None, _) => (Entry::Missing, Err(TokenError::Missing { key })),
            (Some(t), Some(r)) if t == r => (Entry::Refused(r), Err(TokenError::Refused { key })),
            (Some(t), _) => (Entry::Token(t.clone()), Ok(t)),
        };
        let mut st = self.state();
        // Only apps still wanted are kept; a call for an app discovery has just
        // dropped leaves no entry behind.
        if let Some(slot) = st.apps.get_mut(appid) {
            *slot = entry;
        }
        out
    }

    /// Registers an app whose token is wanted (for apps the caller knows before a
    /// discovery has run, and for tests).
    pub fn track(&self, appid: &str) {
        self.state().apps.entry(appid.to_string()).or_insert(Entry::Unread);
    }

    /// Reads every kept app's token again, `MGET` by `MGET`. Returns how many keys
    /// were read and how many of them were missing.
    pub async fn refresh(&self) -> Result<(usize, usize), StoreError> {
        let appids: Vec<String> = self.state().apps.keys().cloned().collect();
        let keys: Vec<String> = appids.iter().map(|a| self.authorizer_key(a)).collect();
        let result = self.store.mget(&keys).await;
        self.note(&result);
        let values = result?;
        let mut st = self.state();
        let mut missing = 0;
        for (appid, value) in appids.iter().zip(values) {
            let Some(slot) = st.apps.get_mut(appid) else { continue };
            let value = value.as_deref().and_then(token_value);
            *slot = match (value, &*slot) {
                (None, _) => {
                    missing += 1;
                    Entry::Missing
                }
                (Some(t), Entry::Refused(r)) if t == *r => Entry::Refused(r.clone()),
                (Some(t), _) => Entry::Token(t),
            };
        }
        Ok((appids.len(), missing))
    }

    /// The platform's component_access_token, read from Redis at each call (it is
    /// wanted once a discovery, and once more for each new app). One that WeChat
    /// refused twice is not sent again until Redis holds another.
    pub async fn component(&self) -> Result<Secret, TokenError> {
        let token = self.component_reread().await?;
        let mut st = self.state();
        if st.component_refused.as_ref() == Some(&token) {
            return Err(TokenError::Refused { key: self.component_key() });
        }
        st.component_refused = None;
        Ok(token)
    }

    /// The component token as Redis holds it now, refused before or not.
    pub async fn component_reread(&self) -> Result<Secret, TokenError> {
        let key = self.component_key();
        let result = self.store.get(&key).await;
        self.note(&result);
        result?.as_deref().and_then(token_value).ok_or(TokenError::Missing { key })
    }

    /// WeChat refused the component token twice: see [`Self::component`].
    pub fn component_refused(&self, token: &Secret) -> TokenError {
        self.state().component_refused = Some(token.clone());
        TokenError::Refused { key: self.component_key() }
    }
}

/// An app's credential when it belongs to a platform: its token is whatever the
/// platform's Redis holds under the app's key.
#[derive(Clone)]
pub struct PlatformCredential {
    tokens: Arc<PlatformTokens>,
    appid: String,
}

impl PlatformCredential {
    pub fn new(tokens: Arc<PlatformTokens>, appid: &str) -> PlatformCredential {
        PlatformCredential { tokens, appid: appid.to_string() }
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The app's token, cached or read from Redis.
    pub async fn token(&self) -> Result<Secret, WechatError> {
        self.tokens.authorizer(&self.appid).await.map_err(unavailable)
    }

    /// WeChat refused a token: what Redis holds now.
    pub async fn reread(&self) -> Result<Secret, WechatError> {
        self.tokens.reread(&self.appid).await.map_err(unavailable)
    }

    /// WeChat refused `token` again: not sent again until Redis holds another.
    pub fn refused(&self, token: &Secret) -> WechatError {
        unavailable(self.tokens.refused(&self.appid, token))
    }
}

fn unavailable(e: TokenError) -> WechatError {
    WechatError::TokenUnavailable(e.to_string())
}

/// The same platform's store and the same app: a reload that keeps both keeps the
/// app's client (and its counters).
impl PartialEq for PlatformCredential {
    fn eq(&self, other: &PlatformCredential) -> bool {
        Arc::ptr_eq(&self.tokens, &other.tokens) && self.appid == other.appid
    }
}

impl std::fmt::Debug for PlatformCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformCredential").field("key", &self.tokens.authorizer_key(&self.appid)).finish()
    }
}
