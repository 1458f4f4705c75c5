//! `--web.config.file`, in the Prometheus exporter-toolkit format: basic auth users
//! with bcrypt hashes, and TLS (rustls). Like exporter-toolkit, the file is looked
//! at again on every connection and request, and re-read when it changed; a change
//! that does not load or validate (an empty file, one that turns on neither TLS nor
//! authentication, a malformed hash, a missing certificate) is logged at error level
//! and the previous settings stay.
//!
//! bcrypt is slow on purpose, which makes it a lever for an attacker: checks run a
//! few at a time, and a request that finds them all busy is refused at once (429)
//! instead of queueing. A credential already found correct is remembered and
//! answered before any of that, so Prometheus's scrapes never wait on an attack.
//! An unknown user costs a check against a dummy hash, as a known one does, so the
//! time of the answer does not tell which users exist.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::Deserialize;
use tokio::sync::Semaphore;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("web config {file}: {message}")]
pub struct WebConfigError {
    pub file: String,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    basic_auth_users: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: String,
    key_file: String,
}

/// The settings in force.
pub struct WebConfig {
    /// user → bcrypt hash. Empty: no authentication.
    pub users: HashMap<String, String>,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl WebConfig {
    fn none() -> WebConfig {
        WebConfig { users: HashMap::new(), tls: None }
    }

    /// The highest cost among the users' hashes: an unknown user's dummy check costs as much.
    fn cost(&self) -> u32 {
        self.users.values().filter_map(|h| h.parse::<bcrypt::HashParts>().ok()).map(|p| p.get_cost()).max().unwrap_or(10)
    }
}

/// What [`WebConfigSource::authorize`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Allowed,
    Denied,
    /// Every bcrypt check is busy: refused without checking.
    Busy,
}

/// The most web config or certificate text read: far above any real one.
const MAX_FILE_BYTES: u64 = 1 << 20;
const FILE_TIMEOUT: Duration = Duration::from_secs(5);
/// Correct credentials remembered; only someone who knows a password can add one.
const MAX_REMEMBERED: usize = 256;

type Stamp = Vec<(SystemTime, u64)>;

struct Loaded {
    /// The certificate and key files the config names, watched with it.
    files: Vec<PathBuf>,
    stamp: Stamp,
    config: Arc<WebConfig>,
}

/// The web config file and what was last loaded from it.
pub struct WebConfigSource {
    path: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    /// Credentials found correct, keyed by a keyed hash of (hash, user, password):
    /// bcrypt is slow by design, and Prometheus scrapes often. Wrong ones are not
    /// kept, so no flood of wrong passwords can push a right one out.
    verified: Mutex<std::collections::HashSet<u64>>,
    hasher: RandomState,
    /// bcrypt checks allowed at once.
    checks: Arc<Semaphore>,
    /// bcrypt checks made, for tests and the curious.
    checked: AtomicU64,
    /// A hash of a random password per cost, checked for users that do not exist.
    dummies: Mutex<HashMap<u32, String>>,
}

/// Half the cores, at least one: an attacker's checks leave the rest to scrapes and polls.
pub fn default_auth_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
}

impl WebConfigSource {
    /// No web config: plain HTTP, no authentication.
    pub fn disabled() -> WebConfigSource {
        WebConfigSource::new(None, Loaded { files: Vec::new(), stamp: Vec::new(), config: Arc::new(WebConfig::none()) })
    }

    fn new(path: Option<PathBuf>, loaded: Loaded) -> WebConfigSource {
        WebConfigSource {
            path,
            loaded: Mutex::new(loaded),
            verified: Mutex::default(),
            hasher: RandomState::new(),
            checks: Arc::new(Semaphore::new(default_auth_concurrency())),
            checked: AtomicU64::new(0),
            dummies: Mutex::default(),
        }
    }

    /// Sets how many bcrypt checks may run at once (at least one).
    pub fn with_auth_concurrency(mut self, n: usize) -> WebConfigSource {
        self.checks = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// bcrypt checks made so far.
    pub fn bcrypt_checks(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    /// Loads `path`; a file that does not load is an error at start.
    pub fn load(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        let (files, config) = read(path)?;
        let stamp = stamp(path, &files);
        Ok(WebConfigSource::new(Some(path.to_path_buf()), Loaded { files, stamp, config: Arc::new(config) }))
    }

    /// The settings in force, re-read first if the file (or a file it names) changed.
    pub fn current(&self) -> Arc<WebConfig> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let Some(path) = &self.path else { return loaded.config.clone() };
        let now = stamp(path, &loaded.files);
        if now != loaded.stamp {
            match read(path) {
                Ok((files, config)) => {
                    tracing::info!(file = %path.display(), "web config reloaded");
                    let stamp = stamp(path, &files);
                    *loaded = Loaded { files, stamp, config: Arc::new(config) };
                    self.verified.lock().unwrap_or_else(|e| e.into_inner()).clear();
                }
                Err(e) => {
                    // Log once per change, and keep serving with what worked.
                    tracing::error!(error = %e, "web config change not applied: it does not load or is not valid; the previous settings stay");
                    loaded.stamp = now;
                }
            }
        }
        loaded.config.clone()
    }

    /// Checks an `Authorization` header against the users in force: a remembered
    /// correct credential at once, anything else with bcrypt, off the async workers,
    /// if a check is free.
    pub async fn authorize(self: &Arc<Self>, config: Arc<WebConfig>, header: Option<&str>) -> Auth {
        if config.users.is_empty() {
            return Auth::Allowed;
        }
        let Some((user, password)) = header.and_then(basic_credentials) else { return Auth::Denied };
        let key = self.hasher.hash_one((config.users.get(&user), &user, &password));
        if self.verified.lock().unwrap_or_else(|e| e.into_inner()).contains(&key) {
            return Auth::Allowed;
        }
        let Ok(permit) = self.checks.clone().try_acquire_owned() else { return Auth::Busy };
        let me = self.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            me.check(&config, &user, &password)
        })
        .await;
        if !matches!(checked, Ok(true)) {
            return Auth::Denied;
        }
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= MAX_REMEMBERED {
            verified.clear();
        }
        verified.insert(key);
        Auth::Allowed
    }

    /// One bcrypt check: against the user's hash, or a dummy of the same cost.
    fn check(&self, config: &WebConfig, user: &str, password: &str) -> bool {
        self.checked.fetch_add(1, Ordering::Relaxed);
        match config.users.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                let dummy = self.dummy(config.cost());
                let _ = bcrypt::verify(password, &dummy);
                false
            }
        }
    }

    fn dummy(&self, cost: u32) -> String {
        if let Some(d) = self.dummies.lock().unwrap_or_else(|e| e.into_inner()).get(&cost) {
            return d.clone();
        }
        let random = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let dummy = bcrypt::hash(random, cost).unwrap_or_default();
        self.dummies.lock().unwrap_or_else(|e| e.into_inner()).insert(cost, dummy.clone());
        dummy
    }
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn stamp(main: &Path, extra: &[PathBuf]) -> Stamp {
    std::iter::once(main)
        .chain(extra.iter().map(PathBuf::as_path))
        .map(|p| {
            std::fs::metadata(p)
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
                .unwrap_or((SystemTime::UNIX_EPOCH, u64::MAX))
        })
        .collect()
}

/// exporter-toolkit reads file names relative to the web config file's folder.
fn relative(config: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        config.parent().map(|d| d.join(p)).unwrap_or_else(|| p.to_path_buf())
    }
}

/// Reads the config and the files it names; returns those files too, to watch.
fn read(path: &Path) -> Result<(Vec<PathBuf>, WebConfig), WebConfigError> {
    let err = |message: String| WebConfigError { file: path.display().to_string(), message };
    let text = read_text(path).map_err(|e| err(e.to_string()))?;
    // An empty file (truncated by a failed write, say) would turn authentication off.
    if text.trim().is_empty() {
        return Err(err("the file is empty; it needs basic_auth_users or tls_server_config".into()));
    }
    let raw: RawWebConfig = crate::config::from_yaml(&text).map_err(|e| {
        let line = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        err(format!("{line}{}: {}", e.key, e.message))
    })?;
    if raw.basic_auth_users.is_empty() && raw.tls_server_config.is_none() {
        return Err(err(
            "it turns on neither basic_auth_users nor tls_server_config; leave --web.config.file out for plain HTTP without authentication".into(),
        ));
    }
    for (user, hash) in &raw.basic_auth_users {
        check_hash(hash).map_err(|why| {
            err(format!("basic_auth_users.{user}: not a bcrypt hash: {why} (make one with `htpasswd -nBC 10 \"\" | tr -d ':'`)"))
        })?;
    }
    let mut files = Vec::new();
    let tls = match &raw.tls_server_config {
        None => None,
        Some(t) => {
            let cert = relative(path, &t.cert_file);
            let key = relative(path, &t.key_file);
            files.push(cert.clone());
            files.push(key.clone());
            Some(Arc::new(server_config(&cert, &key).map_err(err)?))
        }
    };
    Ok((files, WebConfig { users: raw.basic_auth_users, tls }))
}

/// A bcrypt hash that bcrypt can use: `$2a$`, `$2b$`, `$2x$` or `$2y$`, a cost of 4 to
/// 31, and a salt and digest in bcrypt's base64. A half-written one would lock everyone out.
fn check_hash(hash: &str) -> Result<(), String> {
    let parts: bcrypt::HashParts = hash.parse().map_err(|e: bcrypt::BcryptError| e.to_string())?;
    if !(4..=31).contains(&parts.get_cost()) {
        return Err(format!("the cost {} is not within 4..=31", parts.get_cost()));
    }
    Ok(())
}

/// Reads a file the web config uses: a regular file, of at most 1 MiB, within 5 s
/// (this runs on a request's path).
fn read_text(path: &Path) -> Result<String, crate::secret::FileError> {
    crate::secret::read_file_with(path, MAX_FILE_BYTES, FILE_TIMEOUT)
}

fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_text = read_text(cert).map_err(|e| format!("tls_server_config.cert_file: {e}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_text.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls_server_config.cert_file {}: no certificate in it", cert.display()));
    }
    let key_text = read_text(key).map_err(|e| format!("tls_server_config.key_file: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_text.as_bytes())
        .map_err(|e| format!("tls_server_config.key_file {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parses() {
        let h = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("prom:pa:ss"));
        assert_eq!(basic_credentials(&h), Some(("prom".into(), "pa:ss".into())));
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }

    #[test]
    fn bad_files_are_explained() {
        let dir = std::env::temp_dir().join(format!("wechat-exporter-webcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("web.yml");
        std::fs::write(&p, "basic_auth_users:\n  prom: plaintext\n").unwrap();
        let e = WebConfigSource::load(&p).err().unwrap();
        assert!(e.to_string().contains("not a bcrypt hash"), "{e}");
        std::fs::write(&p, "basic_auth_user:\n  prom: x\n").unwrap();
        let e = WebConfigSource::load(&p).err().unwrap();
        assert!(e.to_string().contains("unknown field `basic_auth_user`"), "{e}");
        std::fs::write(&p, "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n").unwrap();
        let e = WebConfigSource::load(&p).err().unwrap();
        assert!(e.to_string().contains("nope.crt"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    fn header(u: &str, p: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
    }

    fn with_user(hash: String) -> Arc<WebConfig> {
        Arc::new(WebConfig { users: HashMap::from([("prom".to_string(), hash)]), tls: None })
    }

    #[tokio::test]
    async fn users_are_checked_and_remembered() {
        let cfg = with_user(bcrypt::hash("right", 4).unwrap());
        let src = Arc::new(WebConfigSource::disabled());
        let auth = |h: Option<String>| {
            let (src, cfg) = (src.clone(), cfg.clone());
            async move { src.authorize(cfg, h.as_deref()).await }
        };
        assert_eq!(auth(Some(header("prom", "right"))).await, Auth::Allowed);
        assert_eq!(auth(Some(header("prom", "right"))).await, Auth::Allowed);
        assert_eq!(src.bcrypt_checks(), 1, "the second answer was remembered");
        assert_eq!(auth(Some(header("prom", "wrong"))).await, Auth::Denied);
        assert_eq!(auth(Some(header("prom", "wrong"))).await, Auth::Denied);
        assert_eq!(src.bcrypt_checks(), 3, "wrong ones are not remembered");
        assert_eq!(auth(None).await, Auth::Denied);
        assert_eq!(src.authorize(Arc::new(WebConfig::none()), None).await, Auth::Allowed, "no users: open");
    }

    #[tokio::test]
    async fn an_unknown_user_costs_a_check_as_a_known_one_does() {
        let cfg = with_user(bcrypt::hash("right", 5).unwrap());
        let src = Arc::new(WebConfigSource::disabled());
        assert_eq!(src.authorize(cfg.clone(), Some(&header("nobody", "right"))).await, Auth::Denied);
        assert_eq!(src.bcrypt_checks(), 1, "checked against a dummy hash");
        let dummy = src.dummies.lock().unwrap().get(&5).cloned().expect("a dummy of the users' cost");
        assert_eq!(dummy.parse::<bcrypt::HashParts>().unwrap().get_cost(), 5);
        assert_eq!(src.authorize(cfg.clone(), Some(&header("nobody", "right"))).await, Auth::Denied);
        assert_eq!(src.bcrypt_checks(), 2, "and never remembered");
    }

    #[tokio::test]
    async fn busy_checks_fail_fast_but_a_remembered_credential_passes() {
        let cfg = with_user(bcrypt::hash("right", 4).unwrap());
        let src = Arc::new(WebConfigSource::disabled().with_auth_concurrency(1));
        assert_eq!(src.authorize(cfg.clone(), Some(&header("prom", "right"))).await, Auth::Allowed);
        // Every check is taken, as by a flood of wrong passwords.
        let _all = src.checks.clone().try_acquire_owned().unwrap();
        let started = std::time::Instant::now();
        assert_eq!(src.authorize(cfg.clone(), Some(&header("prom", "wrong"))).await, Auth::Busy);
        assert_eq!(src.authorize(cfg.clone(), Some(&header("nobody", "x"))).await, Auth::Busy);
        assert_eq!(src.authorize(cfg.clone(), Some(&header("prom", "right"))).await, Auth::Allowed);
        assert_eq!(src.bcrypt_checks(), 1, "nothing was checked while busy");
        assert!(started.elapsed() < Duration::from_secs(1), "nothing waited");
    }

    #[test]
    fn half_written_hashes_and_configs_that_turn_nothing_on_are_refused() {
        let dir = std::env::temp_dir().join(format!("wechat-exporter-webcfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("web.yml");
        let good = bcrypt::hash("x", 4).unwrap();
        for (text, want) in [
            ("", "empty"),
            ("  \n", "empty"),
            ("basic_auth_users: {}\n", "neither"),
            ("basic_auth_users:\n", "neither"),
            ("basic_auth_users:\n  prom: $2b$10$\n", "not a bcrypt hash"),
            (&format!("basic_auth_users:\n  prom: {}\n", &good[..50]), "not a bcrypt hash"),
            (&format!("basic_auth_users:\n  prom: {}\n", good.replacen("$04$", "$99$", 1)), "cost 99"),
            (&format!("basic_auth_users:\n  prom: {}!\n", &good[..59]), "not a bcrypt hash"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = WebConfigSource::load(&p).err().unwrap_or_else(|| panic!("{text:?} was accepted"));
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
        std::fs::write(&p, format!("basic_auth_users:\n  prom: {good}\n")).unwrap();
        assert!(WebConfigSource::load(&p).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_change_that_does_not_validate_keeps_the_settings_in_force() {
        let dir = std::env::temp_dir().join(format!("wechat-exporter-webcfg3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("web.yml");
        std::fs::write(&p, format!("basic_auth_users:\n  prom: {}\n", bcrypt::hash("x", 4).unwrap())).unwrap();
        let src = WebConfigSource::load(&p).unwrap();
        assert_eq!(src.current().users.len(), 1);
        // Truncated by a failed write: authentication stays on.
        std::fs::write(&p, "").unwrap();
        assert_eq!(src.current().users.len(), 1);
        std::fs::write(&p, "basic_auth_users:\n  prom: $2b$10$\n").unwrap();
        assert_eq!(src.current().users.len(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
