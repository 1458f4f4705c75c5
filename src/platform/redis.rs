//! The platform's Redis, read-only: `GET` and `MGET`, nothing else.
//!
//! The client is the `redis` crate (redis-rs): the maintained async client of the
//! Rust ecosystem, on tokio, with `rediss://` over rustls (the TLS stack the
//! exporter already carries, with its own roots) and a `ConnectionManager`, one
//! multiplexed connection that every app's lookups share and that reconnects by
//! itself when Redis comes back.
//!
//! The URL may hold a password. It is a secret like an AppSecret: the target is
//! shown as `redis://host:port/db`, and every error text from the crate is scrubbed
//! of the URL and the password before it goes anywhere.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ConnectionAddr};

use crate::secret::{scrub, Secret};

/// Where the platform's Redis is, parsed and checked without touching the network.
#[derive(Clone)]
pub struct RedisTarget {
    client: Client,
    /// `redis://host:port/db`, with no user or password: what logs and errors say.
    shown: String,
    /// What must never be shown: the URL as written, and the password (as written and decoded).
    secrets: Vec<Secret>,
    /// The private CA, when one is given.
    ca: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RedisTarget").field(&self.shown).finish()
    }
}

impl PartialEq for RedisTarget {
    fn eq(&self, other: &RedisTarget) -> bool {
        self.secrets.first() == other.secrets.first() && self.ca == other.ca
    }
}

/// A Redis call that failed. The text never holds the URL nor the password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No connection, a broken one, or no answer in time.
    #[error("Redis at {target} is unreachable: {detail}")]
    Unreachable { target: String, detail: String },
    /// Redis answered with an error (a wrong password, a missing permission).
    #[error("Redis at {target} refused the command: {detail}")]
    Refused { target: String, detail: String },
}

impl RedisTarget {
    /// Reads a `redis://` or `rediss://` URL. The error never repeats the URL.
    pub fn parse(url: &str) -> Result<RedisTarget, String> {
        RedisTarget::with_ca(url, None)
    }

    /// Like [`RedisTarget::parse`]; with `ca` (PEM), a `rediss://` server's certificate
    /// must chain to it instead of to the public roots (a private CA).
    pub fn with_ca(url: &str, ca: Option<&[u8]>) -> Result<RedisTarget, String> {
        let url = url.trim();
        let scheme = if url.starts_with("rediss://") {
            "rediss"
        } else if url.starts_with("redis://") {
            "redis"
        } else {
            return Err("the Redis URL must start with redis:// or rediss:// (TLS)".into());
        };
        if url.contains('#') {
            // redis-rs reads `#insecure` as "skip certificate checks": not for tokens.
            return Err("the Redis URL has a `#fragment`; certificate checks cannot be turned off".into());
        }
        let client = Client::open(url).map_err(|_| {
            "the Redis URL does not parse; write it like redis://[:password@]host[:port][/db] (percent-encode @, : and / in the password)".to_string()
        })?;
        let info = client.get_connection_info();
        let (host, port) = match info.addr() {
            ConnectionAddr::Tcp(h, p) => (h.clone(), *p),
            ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port),
            _ => return Err("the Redis URL must name a host".into()),
        };
        if host.is_empty() {
            return Err("the Redis URL must name a host".into());
        }
        let mut secrets = vec![Secret::new(url)];
        if let Some(p) = info.redis_settings().password().filter(|p| !p.is_empty()) {
            secrets.push(Secret::new(p));
            // As written in the URL, percent-encoded: `user:pass@` sits before the last '@'.
            if let Some(userinfo) = url[scheme.len() + 3..].rsplit_once('@').map(|(u, _)| u) {
                let written = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
                if !written.is_empty() && written != p {
                    secrets.push(Secret::new(written));
                }
            }
        }
        // Skip `CLIENT SETINFO` on connect: a least-privilege user needs GET and MGET only.
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let info = info.clone().set_redis_settings(settings);
        let db = info.redis_settings().db();
        let client = match ca {
            None => Client::open(info).map_err(|_| "the Redis URL does not parse".to_string())?,
            Some(_) if scheme != "rediss" => return Err("a CA file is for TLS: use a rediss:// URL".into()),
            Some(pem) if !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----") => {
                return Err("the CA file is not a PEM certificate: no -----BEGIN CERTIFICATE----- block".into());
            }
            Some(pem) => {
                let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(pem.to_vec()) };
                Client::build_with_tls(info, certs)
                    .map_err(|e| format!("the CA file is not a PEM certificate: {}", e.detail().unwrap_or("unreadable")))?
            }
        };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let shown = format!("{scheme}://{host}:{port}/{db}");
        Ok(RedisTarget { client, shown, secrets, ca: ca.map(Arc::from) })
    }

    /// `redis://host:port/db`: safe to print.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether a private CA is to be trusted instead of the public roots.
    pub fn has_ca(&self) -> bool {
        self.ca.is_some()
    }

    /// Whether the URL carries a password.
    pub fn has_password(&self) -> bool {
        self.secrets.len() > 1
    }

    /// Text from the crate with the URL and the password taken out.
    fn clean(&self, text: &str) -> String {
        // The longest first: the URL holds the password.
        self.secrets.iter().fold(text.to_string(), |t, s| scrub(&t, s))
    }

    fn error(&self, e: &redis::RedisError) -> StoreError {
        let detail = self.clean(&e.to_string());
        let target = self.shown.clone();
        if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
            StoreError::Unreachable { target, detail }
        } else {
            StoreError::Refused { target, detail }
        }
    }
}

/// How long one Redis call may take, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many keys in one `MGET`: large enough to read 10,000 apps in 20
/// commands, small enough that one answer stays a few tens of KB.
pub const MGET_BATCH: usize = 500;

/// The one connection to a platform's Redis, shared by discovery and every app.
pub struct RedisStore {
    target: RedisTarget,
    /// The connection, and how many times it was remade.
    conn: std::sync::Mutex<(u64, ConnectionManager)>,
}

impl RedisStore {
    /// Prepares the connection; it is made at the first call, and remade after a
    /// failure at the next, so a Redis that is down at start costs nothing but data.
    pub fn new(target: RedisTarget) -> Result<RedisStore, StoreError> {
        let conn = Self::connection(&target)?;
        Ok(RedisStore { target, conn: std::sync::Mutex::new((0, conn)) })
    }

    fn connection(target: &RedisTarget) -> Result<ConnectionManager, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        ConnectionManager::new_lazy_with_config(target.client.clone(), config).map_err(|e| target.error(&e))
    }

    /// Remakes connection number `seen`, unless another call already has. The crate's
    /// manager reconnects by itself after I/O errors only: a connect that failed any
    /// other way (a password refused while an ACL user is not back yet after a restart)
    /// would otherwise fail every call until the process restarts.
    fn remake(&self, seen: u64) {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if conn.0 == seen
            && let Ok(fresh) = Self::connection(&self.target)
        {
            *conn = (seen + 1, fresh);
        }
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// `GET key`: the value as text, or `None` when the key is not there (or holds
    /// something other than a UTF-8 string).
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        let value: Option<Vec<u8>> = self.query(&cmd).await?;
        Ok(value.and_then(|v| String::from_utf8(v).ok()))
    }

    /// `MGET` of many keys, `MGET_BATCH` at a time; the answers in the keys' order.
    pub async fn mget(&self, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MGET_BATCH) {
            let mut cmd = redis::cmd("MGET");
            cmd.arg(chunk);
            let values: Vec<Option<Vec<u8>>> = self.query(&cmd).await?;
            if values.len() != chunk.len() {
                return Err(StoreError::Refused {
                    target: self.target.shown.clone(),
                    detail: format!("MGET of {} keys answered {} values", chunk.len(), values.len()),
                });
            }
            out.extend(values.into_iter().map(|v| v.and_then(|v| String::from_utf8(v).ok())));
        }
        Ok(out)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let (seen, mut conn) = {
            let c = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            (c.0, c.1.clone())
        };
        match tokio::time::timeout(CALL_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_unrecoverable_error() && !e.is_io_error() {
                    self.remake(seen);
                }
                Err(self.target.error(&e))
            }
            Err(_) => Err(StoreError::Unreachable {
                target: self.target.shown.clone(),
                detail: format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
            }),
        }
    }
}

/// A token as SDKs store it: the bare string, possibly JSON-quoted (Spring's JSON
/// serializers write `"token"`), with surrounding whitespace trimmed.
pub fn token_value(raw: &str) -> Option<Secret> {
    let t = raw.trim();
    let t = match serde_json::from_str::<String>(t) {
        Ok(inner) if t.starts_with('"') => inner.trim().to_string(),
        _ => t.to_string(),
    };
    (!t.is_empty()).then(|| Secret::new(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        let t = RedisTarget::parse("redis://:hunter2pw@10.0.0.5:6380/3").unwrap();
        assert_eq!(t.shown(), "redis://10.0.0.5:6380/3");
        assert!(t.has_password());
        assert!(!format!("{t:?}").contains("hunter2pw"));
        let t = RedisTarget::parse("rediss://exporter:p%40ss%3Aw0rd@redis.internal").unwrap();
        assert_eq!(t.shown(), "rediss://redis.internal:6379/0");
        let text = "AUTH failed for redis://exporter:p%40ss%3Aw0rd@redis.internal with p@ss:w0rd and p%40ss%3Aw0rd";
        let clean = t.clean(text);
        assert!(!clean.contains("w0rd"), "{clean}");
        let t = RedisTarget::parse("redis://[::1]:6390/1").unwrap();
        assert_eq!(t.shown(), "redis://[::1]:6390/1");
        let t = RedisTarget::parse("redis://exporter@10.0.0.5").unwrap();
        assert_eq!(t.shown(), "redis://10.0.0.5:6379/0");
        assert!(!t.has_password());
        let t = RedisTarget::parse("redis://127.0.0.1").unwrap();
        assert_eq!(t.shown(), "redis://127.0.0.1:6379/0");
        assert!(!t.has_password());
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for bad in [
            "http://:s3cretpw@127.0.0.1:6379",
            "127.0.0.1:6379",
            "redis://:s3cretpw@[::1:6379",
            "rediss://:s3cretpw@host#insecure",
            "redis+unix:///tmp/redis.sock",
        ] {
            let e = RedisTarget::parse(bad).unwrap_err();
            assert!(!e.contains("s3cretpw") && !e.contains("127.0.0.1"), "{bad}: {e}");
        }
    }

    #[test]
    fn token_values_as_sdks_write_them() {
        assert_eq!(token_value("abc\n").map(|s| s.expose().to_string()), Some("abc".into()));
        assert_eq!(token_value("\"abc\"").map(|s| s.expose().to_string()), Some("abc".into()));
        assert_eq!(token_value("  "), None);
        assert_eq!(token_value("\"\""), None);
    }
}
