//! `--web.config.file`, in the Prometheus exporter-toolkit format: basic auth users
//! with bcrypt hashes, and TLS (rustls). Like exporter-toolkit, the file is looked
//! at again on every connection and request, and re-read when it changed; a change
//! that does not load is logged and the previous settings stay.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use serde::Deserialize;

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
}

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
    /// Credentials already checked against a hash, keyed by a keyed hash of
    /// (hash, user, password): bcrypt is slow by design, and Prometheus scrapes often.
    verified: Mutex<HashMap<u64, bool>>,
    hasher: RandomState,
}

impl WebConfigSource {
    /// No web config: plain HTTP, no authentication.
    pub fn disabled() -> WebConfigSource {
        WebConfigSource {
            path: None,
            loaded: Mutex::new(Loaded { files: Vec::new(), stamp: Vec::new(), config: Arc::new(WebConfig::none()) }),
            verified: Mutex::default(),
            hasher: RandomState::new(),
        }
    }

    /// Loads `path`; a file that does not load is an error at start.
    pub fn load(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        let (files, config) = read(path)?;
        let stamp = stamp(path, &files);
        Ok(WebConfigSource {
            path: Some(path.to_path_buf()),
            loaded: Mutex::new(Loaded { files, stamp, config: Arc::new(config) }),
            verified: Mutex::default(),
            hasher: RandomState::new(),
        })
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
                    tracing::error!(error = %e, "web config change not applied; the previous settings stay");
                    loaded.stamp = now;
                }
            }
        }
        loaded.config.clone()
    }

    /// Checks an `Authorization` header against the users in force.
    pub fn authorized(&self, config: &WebConfig, header: Option<&str>) -> bool {
        if config.users.is_empty() {
            return true;
        }
        let Some((user, password)) = header.and_then(basic_credentials) else { return false };
        let Some(hash) = config.users.get(&user) else { return false };
        let key = self.hasher.hash_one((hash, &user, &password));
        if let Some(ok) = self.verified.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return *ok;
        }
        let ok = bcrypt::verify(&password, hash).unwrap_or(false);
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() > 1024 {
            verified.clear();
        }
        verified.insert(key, ok);
        ok
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
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig { tls_server_config: None, basic_auth_users: HashMap::new() }
    } else {
        crate::config::from_yaml(&text).map_err(|e| {
            let line = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
            err(format!("{line}{}: {}", e.key, e.message))
        })?

    };
    for (user, hash) in &raw.basic_auth_users {
        if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
            return Err(err(format!("basic_auth_users.{user}: not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':'`)")));
        }
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

fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config.cert_file {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls_server_config.cert_file {}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls_server_config.key_file {}: {e}", key.display()))?;
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

    #[test]
    fn users_are_checked_and_remembered() {
        let hash = bcrypt::hash("right", 4).unwrap();
        let src = WebConfigSource::disabled();
        let cfg = WebConfig { users: HashMap::from([("prom".to_string(), hash)]), tls: None };
        let header = |u: &str, p: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
        assert!(src.authorized(&cfg, Some(&header("prom", "right"))));
        assert!(src.authorized(&cfg, Some(&header("prom", "right"))), "cached answer");
        assert!(!src.authorized(&cfg, Some(&header("prom", "wrong"))));
        assert!(!src.authorized(&cfg, Some(&header("other", "right"))));
        assert!(!src.authorized(&cfg, None));
        assert!(src.authorized(&WebConfig::none(), None), "no users: open");
    }
}
