//! The YAML config: parsed strictly (an unknown key is an error, not a silent
//! no-op), with `${VAR}` expansion, secrets read from files, and every mistake
//! reported with the file, the line, the key and what would be right.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::collectors::{Account, CollectorConfig, Listed};
use crate::platform::config::{Ctx as PlatformCtx, KindError, PlatformConfig, RawPlatform};
use crate::secret::Secret;
use crate::wechat::transport::DEFAULT_MAX_RESPONSE_BYTES;
use crate::wechat::{ClientSettings, Credential, TokenMode};

pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_IN_FLIGHT: usize = 32;
const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// A loaded, checked config.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub wechat: WechatSettings,
    pub apps: Vec<AppConfig>,
    /// Third-party platforms, whose apps are found by discovery.
    pub platforms: Vec<PlatformConfig>,
    /// This exporter's share (count, index) of the apps, configured and discovered.
    pub shard: (u32, u32),
    /// Things accepted but worth a word at start (short intervals).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WechatSettings {
    pub client: ClientSettings,
    pub token_mode: TokenMode,
    /// The time of day (UTC+8) from which an empty answer for yesterday is a quiet
    /// day rather than one WeChat has not published yet.
    pub quiet_day_after: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppConfig {
    pub name: Arc<str>,
    pub appid: String,
    pub account: Account,
    pub credential: Credential,
    /// Shared: apps configured alike hold one list (see `share_collectors`).
    pub collectors: Arc<[CollectorConfig]>,
    /// For an app found by a platform's discovery: the platform and the app's nickname.
    pub platform: Option<PlatformLabels>,
}

/// The labels `wechat_app_info` gains for a discovered app.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformLabels {
    pub platform: Arc<str>,
    pub nickname: String,
}

/// A config mistake, located as precisely as the YAML allows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    wechat: RawWechat,
    #[serde(default)]
    apps: Vec<RawApp>,
    #[serde(default)]
    platforms: Vec<RawPlatform<Listed>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWechat {
    base_url: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    timeout: Option<Duration>,
    #[serde(default)]
    token_mode: TokenMode,
    /// Requests in flight at once, across all apps.
    max_concurrent_requests: Option<usize>,
    /// The largest WeChat answer read, in bytes (`4MiB`, `512KiB` or a number).
    #[serde(default, deserialize_with = "size")]
    max_response_size: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    quiet_day_after: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: String,
    appid: String,
    account: Account,
    #[serde(default, deserialize_with = "secret_scalar")]
    secret: Option<String>,
    secret_file: Option<String>,
    access_token_file: Option<String>,
    collectors: Option<Listed>,
}

/// A secret as YAML may type it (`123456` is a number to YAML). The error never
/// repeats the value, as serde's own "invalid type: integer `123456`" would.
fn secret_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        U(u64),
        Other(serde::de::IgnoredAny),
    }
    match Option::<Scalar>::deserialize(d) {
        Ok(None) => Ok(None),
        Ok(Some(Scalar::S(s))) => Ok(Some(s)),
        Ok(Some(Scalar::I(n))) => Ok(Some(n.to_string())),
        Ok(Some(Scalar::U(n))) => Ok(Some(n.to_string())),
        // A float would have lost digits, a list or map is no secret: refuse, without the value.
        Ok(Some(Scalar::Other(_))) | Err(_) => {
            Err(serde::de::Error::custom("the secret must be a string; quote it (\"...\")"))
        }
    }
}

/// A humantime duration (`90s`, `15m`, `1h`), which must be more than zero.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else { return Ok(None) };
    let v = humantime::parse_duration(s.trim()).map_err(|e| {
        serde::de::Error::custom(format!("{s:?} is not a duration ({e}); write it like 30s, 15m or 1h"))
    })?;
    if v.is_zero() {
        return Err(serde::de::Error::custom("a duration must be more than zero"));
    }
    // Far beyond any sensible poll or settle time, and far from where time arithmetic overflows.
    if v > MAX_DURATION {
        return Err(serde::de::Error::custom(format!("{s:?} is longer than the longest allowed, 366d")));
    }
    Ok(Some(v))
}

/// The shortest collector interval: a shorter one would have a failing upstream
/// polled a thousand times a second.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A size in bytes: a number, or a number with B, KB, KiB, MB or MiB; 1KiB to 1GiB.
fn size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(u64),
        S(String),
    }
    let Some(raw) = Option::<Raw>::deserialize(d)? else { return Ok(None) };
    let bytes = match raw {
        Raw::N(n) => Some(n),
        Raw::S(s) => parse_size(&s),
    };
    match bytes {
        Some(n) if (1024..=1 << 30).contains(&n) => Ok(Some(n as usize)),
        Some(n) => Err(serde::de::Error::custom(format!("{n} bytes is not within 1KiB..=1GiB"))),
        None => Err(serde::de::Error::custom("not a size; write it like 4MiB, 512KiB or 4194304")),
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1024,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.parse::<u64>().ok()?.checked_mul(mult)
}

// ---- loading ----

/// Why a YAML document is not what it should be: where, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

/// Reads a YAML document strictly into `T`, for both the config and the web config.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let de = yaml_serde::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let line = e.inner().location().map(|l| l.line());
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        // The YAML error repeats the path and the position; the report has both already.
        let msg = e.inner().to_string();
        let msg = msg.split(" at line ").next().unwrap_or_default();
        let msg = match msg.split_once(": ") {
            Some((head, rest)) if key.starts_with(head) => rest,
            _ => msg,
        };
        YamlError { line, key, message: msg.to_string() }
    })
}

/// Reads and checks the config at `path`, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        key: String::new(),
        message: format!("cannot read the config: {e}"),
    })?;
    parse(&text, &file, &|name| std::env::var(name).ok())
}

/// Checks a config's text; `env` looks variables up (tests pass their own).
pub fn parse(text: &str, file: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let at = |line: Option<usize>, key: &str, message: String| ConfigError {
        file: file.to_string(),
        line,
        key: key.to_string(),
        message,
    };
    if text.trim().is_empty() {
        return Err(at(None, "", "the config is empty; it needs at least an `apps:` list".into()));
    }
    let raw: RawConfig = from_yaml(text).map_err(|e| at(e.line, &e.key, e.message))?;


    let mut warnings = Vec::new();
    let expand_at = |value: &str, key: &str| -> Result<String, ConfigError> {
        expand(value, env).map_err(|var| {
            at(
                find_line(text, &format!("${{{var}}}"), 0),
                key,
                format!("environment variable {var} is not set; set it or write the value in the file"),
            )
        })
    };

    let base_url = match &raw.wechat.base_url {
        Some(u) => expand_at(u, "wechat.base_url")?,
        None => DEFAULT_BASE_URL.to_string(),
    };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(at(
            find_line(text, "base_url:", 0),
            "wechat.base_url",
            format!("{base_url:?} is not an http:// or https:// URL"),
        ));
    }
    let wechat = WechatSettings {
        client: ClientSettings {
            base_url,
            timeout: raw.wechat.timeout.unwrap_or(DEFAULT_TIMEOUT),
            max_in_flight: raw.wechat.max_concurrent_requests.unwrap_or(DEFAULT_MAX_IN_FLIGHT).max(1),
            max_response_bytes: raw.wechat.max_response_size.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        },
        token_mode: raw.wechat.token_mode,
        quiet_day_after: raw.wechat.quiet_day_after.unwrap_or(crate::collectors::newest::QUIET_AFTER),
    };
    if wechat.quiet_day_after >= Duration::from_secs(24 * 3600) {
        return Err(at(
            find_line(text, "quiet_day_after:", 0),
            "wechat.quiet_day_after",
            "must be a time of day (UTC+8) under 24h, like 8h or 9h30m".into(),
        ));
    }

    if raw.apps.is_empty() && raw.platforms.is_empty() {
        return Err(at(
            find_line(text, "apps:", 0).or(find_line(text, "platforms:", 0)),
            "apps",
            "no apps or platforms are configured; add at least one".into(),
        ));
    }
    // Lines are looked up only when there is a mistake to point at, so loading stays
    // linear in the number of apps.
    let mut names = HashSet::with_capacity(raw.apps.len());
    let mut appids: HashMap<String, String> = HashMap::with_capacity(raw.apps.len());
    let mut apps = Vec::with_capacity(raw.apps.len());
    let mut lists = Vec::new();
    for (i, app) in raw.apps.into_iter().enumerate() {
        let key = |k: &str| format!("apps[{i}].{k}");
        let name_line = || find_line(text, "name:", i);
        let name = expand_at(&app.name, &key("name"))?;
        if name.trim().is_empty() {
            return Err(at(name_line(), &key("name"), "an app needs a name (the `app` label)".into()));
        }
        if !names.insert(name.clone()) {
            return Err(at(
                find_line_value(text, "name:", &name, 1).or_else(name_line),
                &key("name"),
                format!("the app name {name:?} is used twice; names are the `app` label and must be unique"),
            ));
        }
        let appid = expand_at(&app.appid, &key("appid"))?;
        if appid.trim().is_empty() {
            return Err(at(name_line(), &key("appid"), "the appid is empty".into()));
        }
        if let Some(first) = appids.insert(appid.clone(), name.clone()) {
            return Err(at(
                find_line_value(text, "appid:", &app.appid, 1).or_else(name_line),
                &key("appid"),
                format!(
                    "apps {first:?} and {name:?} have the same appid {appid}; each would keep its own token, \
                     and in classic mode each would invalidate the other's: list the app once"
                ),
            ));
        }

        let sources = [app.secret.is_some(), app.secret_file.is_some(), app.access_token_file.is_some()];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(at(
                name_line(),
                &format!("apps[{i}]"),
                format!("app {name:?} needs exactly one of `secret`, `secret_file` or `access_token_file`"),
            ));
        }
        let credential = if let Some(s) = &app.secret {
            let secret = expand_at(s, &key("secret"))?;
            if secret.trim().is_empty() {
                return Err(at(find_line(text, "secret:", i), &key("secret"), "the secret is empty".into()));
            }
            Credential::Secret { appid: appid.clone(), secret: Secret::new(secret.trim()), mode: wechat.token_mode }
        } else if let Some(f) = &app.secret_file {
            let path = expand_at(f, &key("secret_file"))?;
            let secret = read_secret_file(&path).map_err(|m| at(find_line_value(text, "secret_file:", f, 0), &key("secret_file"), m))?;
            Credential::Secret { appid: appid.clone(), secret, mode: wechat.token_mode }
        } else {
            let f = app.access_token_file.as_deref().unwrap_or_default();
            let path = expand_at(f, &key("access_token_file"))?;
            // Read now so a missing or empty file is a config error; it is re-read when it changes.
            read_secret_file(&path)
                .map_err(|m| at(find_line_value(text, "access_token_file:", f, 0), &key("access_token_file"), m))?;
            Credential::File(PathBuf::from(path))
        };

        let collectors = Listed::resolve(app.collectors, app.account).map_err(|e| {
            let from = name_line();
            let line = e.near.iter().find_map(|n| find_line_from(text, n, from.unwrap_or(1))).or(from);
            at(line, &format!("apps[{i}].collectors.{}", e.key), e.message)
        })?;
        for c in &collectors {
            let kind = c.spec.kind();
            if c.interval < MIN_INTERVAL {
                let block = name_line().and_then(|from| find_line_from(text, &format!("{}:", kind.name()), from));
                return Err(at(
                    block.and_then(|from| find_line_from(text, "interval", from)).or(block),
                    &format!("apps[{i}].collectors.{}.interval", kind.name()),
                    format!(
                        "{} is shorter than the shortest interval, 1s",
                        humantime::format_duration(c.interval)
                    ),
                ));
            }
            if c.interval < kind.comfortable_interval() {
                warnings.push(format!(
                    "app {name:?}: {} every {} is more often than WeChat's quota comfortably allows (at least {} is advised)",
                    kind.name(),
                    humantime::format_duration(c.interval),
                    humantime::format_duration(kind.comfortable_interval())
                ));
            }
        }
        let collectors = share_collectors(&mut lists, collectors);
        apps.push(AppConfig { name: Arc::from(name), appid, account: app.account, credential, collectors, platform: None });
    }
    let app_names = names;
    let cx = PlatformCtx { text, file, env, app_names: &app_names };
    let resolve = |block: Option<Listed>, account: Account| {
        Listed::resolve(block, account).map_err(|e| KindError { key: e.key, message: e.message, near: e.near })
    };
    let platforms = crate::platform::config::check(&cx, raw.platforms, &resolve, &mut warnings)?;
    Ok(Config { wechat, apps, platforms, shard: (1, 0), warnings })
}

/// The shard an app name belongs to.
/// The list in `lists` equal to `collectors`, or `collectors` added to them: 10,000
/// apps configured alike share one list instead of holding 10,000 copies (some 4 MB).
/// The kinds of list in a config are few, so a linear search is enough.
pub fn share_collectors(lists: &mut Vec<Arc<[CollectorConfig]>>, collectors: Vec<CollectorConfig>) -> Arc<[CollectorConfig]> {
    if let Some(same) = lists.iter().find(|l| l[..] == collectors[..]) {
        return same.clone();
    }
    let list: Arc<[CollectorConfig]> = collectors.into();
    // Apps all configured differently share nothing: no searching a list per app.
    if lists.len() < 64 {
        lists.push(list.clone());
    }
    list
}

pub fn shard_of(name: &str, count: u32) -> u32 {
    (crate::fnv::hash(name.as_bytes()) % u64::from(count.max(1))) as u32
}

/// Reads a secret or token file whole, trimming surrounding whitespace: a small
/// regular file, read within a time limit (see [`crate::secret::read_file`]).
pub fn read_secret_file(path: &str) -> Result<Secret, String> {
    let text = crate::secret::read_file(Path::new(path)).map_err(|e| e.to_string())?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("{path} is empty"));
    }
    Ok(Secret::new(value))
}

/// Expands `${VAR}`; the error is the name of an unset variable.
pub(crate) fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        out.push_str(&env(name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The 1-based line of the `nth` (0-based) line containing `needle`.
fn find_line(text: &str, needle: &str, nth: usize) -> Option<usize> {
    text.lines().enumerate().filter(|(_, l)| l.contains(needle)).nth(nth).map(|(i, _)| i + 1)
}

/// The 1-based line of the first line at or after line `from` (1-based) containing `needle`.
fn find_line_from(text: &str, needle: &str, from: usize) -> Option<usize> {
    text.lines().enumerate().skip(from.saturating_sub(1)).find(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1)
}

/// The 1-based line of the `nth` line holding both `key` and `value`.
fn find_line_value(text: &str, key: &str, value: &str, nth: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(key) && l.contains(value))
        .nth(nth)
        .map(|(i, _)| i + 1)
}

impl Config {
    /// Keeps only this exporter's share of the apps: those whose name hashes to
    /// `index` of `count`. The hash is FNV-1a of the name, stable across versions
    /// and machines, so every instance agrees on who polls what.
    pub fn shard(&mut self, count: u32, index: u32) -> Result<(), String> {
        if count == 0 || index >= count {
            return Err(format!("--shard.index {index} is not within 0..{count} (--shard.count)"));
        }
        self.apps.retain(|a| shard_of(&a.name, count) == index);
        // Discovered apps are split by their name, the appid, when they are found.
        self.shard = (count, index);
        Ok(())
    }

    /// What `--config.check` prints: every app and what it will poll.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "WeChat API: {} (timeout {}, tokens: {:?}, at most {} requests at once)\n",
            self.wechat.client.base_url,
            humantime::format_duration(self.wechat.client.timeout),
            self.wechat.token_mode,
            self.wechat.client.max_in_flight
        );
        for app in &self.apps {
            let cred = match &app.credential {
                Credential::Secret { mode: TokenMode::Stable, .. } => "secret, stable_token".to_string(),
                Credential::Secret { mode: TokenMode::Classic, .. } => "secret, classic token".to_string(),
                Credential::File(p) => format!("token file {}", p.display()),
                Credential::Platform(_) => "a platform's token".to_string(),
            };
            out.push_str(&format!("app {} ({}, {}, {})\n", app.name, app.appid, app.account.as_str(), cred));
            for c in app.collectors.iter() {
                out.push_str(&format!(
                    "  {} every {}: {}\n",
                    c.spec.name(),
                    humantime::format_duration(c.interval),
                    c.spec.describe()
                ));
            }
        }
        for p in &self.platforms {
            out.push_str(&p.summary());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::{cloudbase_sms, realtime_log};

    fn env(name: &str) -> Option<String> {
        match name {
            "SHOP_APPSECRET" => Some("s3cr3t-value".into()),
            _ => None,
        }
    }

    fn parse_ok(text: &str) -> Config {
        parse(text, "test.yml", &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> ConfigError {
        parse(text, "test.yml", &env).expect_err("the config should be rejected")
    }

    const MINIMAL: &str = "apps:\n  - name: shop\n    appid: wx1\n    account: miniprogram\n    secret: ${SHOP_APPSECRET}\n";

    #[test]
    fn apps_configured_alike_share_one_collector_list() {
        let app = |name: &str, appid: &str, collectors: &str| {
            format!("  - name: {name}\n    appid: {appid}\n    account: miniprogram\n    secret: s\n{collectors}")
        };
        let hourly = "    collectors: {visit_trend: {interval: 1h}}\n";
        let text = format!(
            "apps:\n{}{}{}{}",
            app("a", "wx1", ""),
            app("b", "wx2", ""),
            app("c", "wx3", hourly),
            app("d", "wx4", hourly)
        );
        let c = parse_ok(&text);
        let [a, b, cc, d] = [0, 1, 2, 3].map(|i| &c.apps[i].collectors);
        assert!(Arc::ptr_eq(a, b) && Arc::ptr_eq(cc, d), "alike: one list");
        assert!(!Arc::ptr_eq(a, cc) && a[..] != cc[..], "different: their own");
        assert_eq!(cc.len(), 1);
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse_ok(MINIMAL);
        assert_eq!(c.wechat.client.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.wechat.token_mode, TokenMode::Stable);
        let app = &c.apps[0];
        assert_eq!(&*app.name, "shop");
        match &app.credential {
            Credential::Secret { secret, .. } => assert_eq!(secret.expose(), "s3cr3t-value"),
            other => panic!("{other:?}"),
        }
        let names: Vec<&str> = app.collectors.iter().map(|c| c.spec.name()).collect();
        assert!(names.contains(&"visit_trend") && names.contains(&"performance"), "{names:?}");
        assert!(c.warnings.is_empty());
        assert!(!format!("{c:?}").contains("s3cr3t"), "Debug output redacts the secret");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{intervl: 1h}}\n"));
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.key.contains("collectors.visit_trend"), "{e}");
        assert!(e.message.contains("unknown field `intervl`") && e.message.contains("interval"), "{e}");
        assert!(e.to_string().starts_with("test.yml:7: apps[0].collectors.visit_trend"), "{e}");
    }

    #[test]
    fn bad_values_say_what_is_right() {
        let e = parse_err(&MINIMAL.replace("miniprogram", "mini_program"));
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("official_account"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{interval: soon}}\n"));
        assert!(e.message.contains("30s, 15m or 1h"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      performance:\n        queries:\n          - {{cost_time_type: startup, networktype: 5g}}\n"));
        assert!(e.message.contains("wifi"), "{e}");
        assert_eq!(e.line, Some(9), "{e}");
    }

    #[test]
    fn unset_variable_is_named() {
        let e = parse_err(&MINIMAL.replace("SHOP_APPSECRET", "NOPE_SECRET"));
        assert!(e.message.contains("NOPE_SECRET"), "{e}");
        assert_eq!(e.line, Some(5));
        assert_eq!(e.key, "apps[0].secret");
    }

    #[test]
    fn duplicate_names_and_credentials() {
        let twice = format!("{MINIMAL}{}", &MINIMAL[6..]);
        let e = parse_err(&twice);
        assert!(e.message.contains("used twice"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
        let none = "apps:\n  - name: shop\n    appid: wx1\n    account: miniprogram\n";
        assert!(parse_err(none).message.contains("exactly one of"));
    }

    #[test]
    fn secret_files_are_trimmed_and_empty_ones_rejected() {
        let dir = std::env::temp_dir().join(format!("wechat-exporter-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        let empty = dir.join("empty");
        std::fs::write(&good, "  abc123\n").unwrap();
        std::fs::write(&empty, "\n").unwrap();
        let cfg = |p: &Path| format!("apps:\n  - name: a\n    appid: wx1\n    account: miniprogram\n    secret_file: {}\n", p.display());
        match &parse_ok(&cfg(&good)).apps[0].credential {
            Credential::Secret { secret, .. } => assert_eq!(secret.expose(), "abc123"),
            other => panic!("{other:?}"),
        }
        let e = parse_err(&cfg(&empty));
        assert!(e.message.contains("is empty") && e.message.contains("empty"), "{e}");
        assert_eq!(e.line, Some(5));
        let e = parse_err(&cfg(&dir.join("missing")));
        assert!(e.message.contains("cannot read"), "{e}");
        let token = format!("apps:\n  - name: a\n    appid: wx1\n    account: miniprogram\n    access_token_file: {}\n", good.display());
        assert!(matches!(parse_ok(&token).apps[0].credential, Credential::File(_)));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn secret_files_must_be_small_regular_files() {
        let dir = std::env::temp_dir().join(format!("wechat-exporter-config-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big");
        std::fs::write(&big, "s3cr3tcontent".repeat(1000)).unwrap();
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        for key in ["secret_file", "access_token_file"] {
            let cfg = |p: &Path| format!("apps:\n  - name: a\n    appid: wx1\n    account: miniprogram\n    {key}: {}\n", p.display());
            for (path, want) in [
                (fifo.as_path(), "is a FIFO, not a regular file"),
                (Path::new("/dev/zero"), "is a character device, not a regular file"),
                (dir.as_path(), "is a directory, not a regular file"),
                (big.as_path(), "is larger than 4096 bytes"),
            ] {
                let e = parse_err(&cfg(path));
                assert!(e.message.contains(want) && e.message.contains(&path.display().to_string()), "{e}");
                assert_eq!(e.key, format!("apps[0].{key}"));
                assert_eq!(e.line, Some(5), "{e}");
                assert!(!e.to_string().contains("s3cr3t"), "{e}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn intervals_under_a_second_are_refused() {
        for bad in ["1ns", "999ms", "500us"] {
            let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{interval: {bad}}}\n"));
            assert_eq!(e.key, "apps[0].collectors.visit_trend.interval", "{e}");
            assert!(e.message.contains("shortest interval, 1s"), "{e}");
            assert_eq!(e.line, Some(7), "{e}");
        }
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      realtime_log:\n        settle: 1m\n        interval: 10ms\n"));
        assert_eq!(e.key, "apps[0].collectors.realtime_log.interval", "{e}");
        assert_eq!(e.line, Some(9), "{e}");
        let c = parse_ok(&format!("{MINIMAL}    collectors:\n      visit_trend: {{interval: 1s}}\n"));
        assert_eq!(c.apps[0].collectors[0].interval, Duration::from_secs(1));
    }

    #[test]
    fn an_appid_used_twice_names_both_apps() {
        let two = format!("{MINIMAL}  - name: shop2\n    appid: wx1\n    account: miniprogram\n    secret: other\n");
        let e = parse_err(&two);
        assert_eq!(e.key, "apps[1].appid", "{e}");
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.message.contains("\"shop\"") && e.message.contains("\"shop2\"") && e.message.contains("wx1"), "{e}");
        // Whatever the credential: a token file for the same appid too.
        let dir = std::env::temp_dir().join(format!("wechat-exporter-config-dup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t"), "tok").unwrap();
        let file = format!("{MINIMAL}  - name: other\n    appid: wx1\n    account: miniprogram\n    access_token_file: {}\n", dir.join("t").display());
        assert!(parse_err(&file).message.contains("same appid"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_response_size_limit() {
        assert_eq!(parse_ok(MINIMAL).wechat.client.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        for (v, want) in [("8MiB", 8 << 20), ("512KiB", 512 << 10), ("2MB", 2_000_000), ("65536", 65536)] {
            let c = parse_ok(&format!("wechat:\n  max_response_size: {v}\n{MINIMAL}"));
            assert_eq!(c.wechat.client.max_response_bytes, want, "{v}");
        }
        for bad in ["lots", "10", "2GiB", "-1", "1.5MiB"] {
            let e = parse_err(&format!("wechat:\n  max_response_size: {bad}\n{MINIMAL}"));
            assert_eq!(e.key, "wechat.max_response_size", "{bad}: {e}");
            assert_eq!(e.line, Some(2), "{e}");
        }
    }

    #[test]
    fn many_apps_load_and_keep_their_order() {
        let mut text = String::from("apps:\n");
        for i in 0..20_000 {
            text.push_str(&format!("  - name: app-{i}\n    appid: wx{i:016}\n    account: miniprogram\n    secret: s{i}\n"));
        }
        let c = parse_ok(&text);
        assert_eq!(c.apps.len(), 20_000);
        assert_eq!(&*c.apps[19_999].name, "app-19999");
        // A mistake in the last app is still found on its own line.
        let bad = text.replace("    secret: s19999\n", "    secret: s19999\n    collectors: {visit_trend: {interval: 500ms}}\n");
        let e = parse_err(&bad);
        assert_eq!(e.key, "apps[19999].collectors.visit_trend.interval", "{e}");
        assert_eq!(e.line, Some(80_002), "{e}");
    }

    #[test]
    fn secret_errors_never_repeat_the_value() {
        let numeric = parse_ok(&MINIMAL.replace("${SHOP_APPSECRET}", "123456789"));
        match &numeric.apps[0].credential {
            Credential::Secret { secret, .. } => assert_eq!(secret.expose(), "123456789"),
            other => panic!("{other:?}"),
        }
        for bad in ["1234.5678", "[s3cr3tlist]", "{a: s3cr3tmap}"] {
            let e = parse_err(&MINIMAL.replace("${SHOP_APPSECRET}", bad));
            assert!(e.message.contains("must be a string"), "{e}");
            assert!(!e.to_string().contains("s3cr3t") && !e.to_string().contains("5678"), "{e}");
        }
    }

    #[test]
    fn collector_blocks_read_strictly_and_point_at_the_line() {
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{}}\n      visit_trnd: {{}}\n"));
        assert_eq!(e.line, Some(8), "{e}");
        assert!(e.message.contains("unknown field `visit_trnd`") && e.message.contains("`visit_trend`"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      realtime_log:\n        settle: 1m\n        interval: 1m\n        by_ur1: true\n"));
        assert_eq!(e.line, Some(10), "the unknown key's own line: {e}");
        assert!(e.message.contains("one of `interval`, `settle`, `budget`, `by_url`"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{interval: 1h, interval: 2h}}\n"));
        assert!(e.message.contains("interval"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{}}\n      visit_trend: {{}}\n"));
        assert!(e.message.contains("visit_trend"), "{e}");
        // A collector named with nothing after it runs with its defaults.
        let c = parse_ok(&format!("{MINIMAL}    collectors:\n      visit_trend:\n      performance:\n"));
        let names: Vec<&str> = c.apps[0].collectors.iter().map(|c| c.spec.name()).collect();
        assert_eq!(names, ["visit_trend", "performance"]);
        assert_eq!(c.apps[0].collectors[1].spec.settings(), Some(&crate::collectors::performance::Settings::default()));
        // Listed in any order, run in the registry's.
        let c = parse_ok(&format!("{MINIMAL}    collectors:\n      performance: {{}}\n      visit_trend: {{interval: 2h}}\n"));
        let names: Vec<&str> = c.apps[0].collectors.iter().map(|c| c.spec.name()).collect();
        assert_eq!(names, ["visit_trend", "performance"]);
        assert_eq!(c.apps[0].collectors[0].interval, Duration::from_secs(7200));
        // An empty block: no collectors at all.
        assert!(parse_ok(&format!("{MINIMAL}    collectors: {{}}\n")).apps[0].collectors.is_empty());
    }

    #[test]
    fn datacube_collectors_and_their_settings() {
        let names: Vec<&str> = parse_ok(MINIMAL).apps[0].collectors.iter().map(|c| c.spec.name()).collect();
        assert_eq!(names, ["visit_trend", "performance", "realtime_log", "daily_summary"], "a mini program's defaults");
        let all = "    collectors:\n      retain: {}\n      visit_page: {top: 5}\n      visit_distribution:\n      user_portrait: {span: 30d, dimensions: [city]}\n      weekly_visit_trend: {interval: 2h}\n      monthly_visit_trend: {}\n";
        let c = parse_ok(&format!("{MINIMAL}{all}"));
        let s = c.summary();
        for line in [
            "retain every 1h: getDailyRetain for the cohorts of yesterday (UTC+8) minus 0, 1, 2, 3, 4, 5, 6, 7, 14, 30 days",
            "visit_page every 1h: getVisitPage for yesterday (UTC+8), the top 5 pages by visits",
            "visit_distribution every 1h: getVisitDistribution for yesterday (UTC+8)",
            "user_portrait every 1h: getUserPortrait for the 30 days ending yesterday (UTC+8): city",
            "weekly_visit_trend every 2h: getWeeklyVisitTrend for the last complete week, Monday to Sunday (UTC+8)",
            "monthly_visit_trend every 1h: getMonthlyVisitTrend for the last complete calendar month (UTC+8)",
        ] {
            assert!(s.contains(line), "{line}\n{s}");
        }
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_page:\n        top: 500\n"));
        assert_eq!((e.line, e.key.as_str()), (Some(8), "apps[0].collectors.visit_page.top"), "{e}");
        assert!(e.message.contains("1..=200"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      user_portrait:\n        span: 7d\n        dimensions: [ages, city, ages]\n"));
        assert_eq!((e.line, e.key.as_str()), (Some(9), "apps[0].collectors.user_portrait.dimensions[2]"), "{e}");
        assert!(e.message.contains("ages is listed twice"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      user_portrait: {{span: 2d}}\n"));
        assert!(e.key.ends_with("user_portrait.span") && e.message.contains("7d"), "{e}");
        let e = parse_err(&format!("{OFFICIAL}    collectors:\n      retain: {{}}\n"));
        assert!(e.message.contains("retain is for miniprogram apps"), "{e}");
    }

    #[test]
    fn collectors_must_fit_the_account() {
        let e = parse_err(&format!("{}    collectors:\n      visit_trend: {{}}\n", MINIMAL.replace("miniprogram", "official_account")));
        assert!(e.message.contains("visit_trend is for miniprogram"), "{e}");
    }

    #[test]
    fn repeated_queries_and_endless_durations_are_refused() {
        let q = "    collectors:\n      performance:\n        queries:\n          - {cost_time_type: startup, scene: 1001}\n          - {cost_time_type: startup, scene: \"1001\"}\n";
        let e = parse_err(&format!("{MINIMAL}{q}"));
        assert!(e.message.contains("listed twice"), "{e}");
        assert!(e.key.ends_with("performance.queries[1]"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      visit_trend: {{interval: 500000000years}}\n"));
        assert!(e.message.contains("longest allowed"), "{e}");
    }

    #[test]
    fn quiet_day_after_is_a_time_of_day() {
        let c = parse_ok(MINIMAL);
        assert_eq!(c.wechat.quiet_day_after, Duration::from_secs(8 * 3600), "WeChat's 08:00 by default");
        let c = parse_ok(&format!("wechat:\n  quiet_day_after: 9h30m\n{MINIMAL}"));
        assert_eq!(c.wechat.quiet_day_after, Duration::from_secs(9 * 3600 + 1800));
        let e = parse_err(&format!("wechat:\n  quiet_day_after: 24h\n{MINIMAL}"));
        assert_eq!((e.key.as_str(), e.line), ("wechat.quiet_day_after", Some(2)), "{e}");
        assert!(parse_err(&format!("wechat:\n  quiet_day_after: soon\n{MINIMAL}")).message.contains("not a duration"));
    }

    #[test]
    fn short_intervals_are_accepted_with_a_warning() {
        let c = parse_ok(&format!("{MINIMAL}    collectors:\n      visit_trend: {{interval: 5s}}\n"));
        assert_eq!(c.apps[0].collectors.len(), 1);
        assert_eq!(c.apps[0].collectors[0].interval, Duration::from_secs(5));
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    const OFFICIAL: &str = "apps:\n  - name: news\n    appid: wx2\n    account: official_account\n    secret: s\n";
    const SMS: &str = "    collectors:\n      cloudbase_sms:\n        interval: 15m\n        env_id: prod-123\n        activities:\n          - activity_id: 21ded5cb6001691405171ba161c603d1\n            channel_ids: [_cms_sms_]\n";

    #[test]
    fn an_official_account_runs_interface_summary_by_default() {
        let c = parse_ok(OFFICIAL);
        let cs = &c.apps[0].collectors;
        let names: Vec<&str> = cs.iter().map(|c| c.spec.name()).collect();
        assert_eq!(names, ["interface_summary", "user_summary", "article_reads"], "upstream_msg only on request");
        assert!(cs.iter().all(|c| c.interval == Duration::from_secs(3600)));
        let c = parse_ok(&format!("{OFFICIAL}    collectors:
      upstream_msg: {{}}
"));
        assert_eq!(c.apps[0].collectors[0].spec.name(), "upstream_msg");
        let c = parse_ok(&format!("{OFFICIAL}    collectors:\n      interface_summary: {{interval: 30m}}\n"));
        assert_eq!(c.apps[0].collectors[0].interval, Duration::from_secs(1800));
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      interface_summary: {{}}\n"));
        assert!(e.message.contains("interface_summary is for official_account apps"), "{e}");
        assert_eq!(e.key, "apps[0].collectors.interface_summary");
        assert_eq!(e.line, Some(7), "{e}");
        let e = parse_err(&format!("{OFFICIAL}    collectors:\n      interface_summary: {{interval: 1h, days: 3}}\n"));
        assert!(e.message.contains("unknown field `days`"), "{e}");
    }

    #[test]
    fn cloudbase_sms_as_the_spec_writes_it() {
        let c = parse_ok(&format!("{MINIMAL}{SMS}"));
        let cs = &c.apps[0].collectors;
        assert_eq!(cs.len(), 1, "only what is configured runs");
        assert_eq!(cs[0].interval, Duration::from_secs(900));
        let s = cs[0].spec.settings::<cloudbase_sms::Settings>().unwrap();
        assert_eq!(s.env_id, "prod-123");
        assert_eq!(
            s.activities,
            vec![cloudbase_sms::Activity {
                activity_id: "21ded5cb6001691405171ba161c603d1".into(),
                channel_ids: vec!["_cms_sms_".into()]
            }]
        );
        let summary = c.summary();
        assert!(summary.contains("cloudbase_sms every 15m: cloudbase.getStatistics in env prod-123: activity 21ded5cb"), "{summary}");
        // Not among the defaults, and the interval defaults to 15m.
        assert!(parse_ok(MINIMAL).apps[0].collectors.iter().all(|c| c.spec.name() != "cloudbase_sms"));
        let c = parse_ok(&format!("{MINIMAL}{}", SMS.replace("        interval: 15m\n", "")));
        assert_eq!(c.apps[0].collectors[0].interval, Duration::from_secs(900));
        // Channels may be left out: the overview alone.
        let c = parse_ok(&format!("{MINIMAL}{}", SMS.replace("            channel_ids: [_cms_sms_]\n", "")));
        let s = c.apps[0].collectors[0].spec.settings::<cloudbase_sms::Settings>().unwrap();
        assert!(s.activities[0].channel_ids.is_empty());
    }

    #[test]
    fn cloudbase_sms_mistakes_name_the_key() {
        let e = parse_err(&format!("{MINIMAL}{}", SMS.replace("        env_id: prod-123\n", "")));
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms.env_id", "{e}");
        assert!(e.message.contains("env_id is required"), "{e}");
        assert_eq!(e.line, Some(7), "the block's line: {e}");
        let e = parse_err(&format!("{MINIMAL}{}", SMS.replace("prod-123", "\"  \"")));
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms.env_id", "{e}");
        assert_eq!(e.line, Some(9), "{e}");

        let no_acts = "    collectors:\n      cloudbase_sms:\n        env_id: prod-123\n        activities: []\n";
        let e = parse_err(&format!("{MINIMAL}{no_acts}"));
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms.activities", "{e}");
        assert!(e.message.contains("at least one activity"), "{e}");
        assert_eq!(e.line, Some(9), "{e}");
        let e = parse_err(&format!("{MINIMAL}{}", no_acts.replace("        activities: []\n", "")));
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms.activities", "{e}");

        let e = parse_err(&format!("{MINIMAL}{}", SMS.replace("channel_ids:", "channels:")));
        assert!(e.message.contains("unknown field `channels`") && e.message.contains("channel_ids"), "{e}");
        assert!(e.key.contains("cloudbase_sms.activities[0]"), "{e}");
        assert_eq!(e.line, Some(12), "{e}");
        let e = parse_err(&format!("{MINIMAL}{}", SMS.replace("env_id:", "envid:")));
        assert!(e.message.contains("unknown field `envid`"), "{e}");

        let twice = format!("{MINIMAL}{SMS}          - activity_id: 21ded5cb6001691405171ba161c603d1\n");
        let e = parse_err(&twice);
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms.activities[1].activity_id", "{e}");
        assert!(e.message.contains("listed twice"), "{e}");
        let e = parse_err(&format!("{MINIMAL}{}", SMS.replace("[_cms_sms_]", "[_cms_sms_, _cms_sms_]")));
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms.activities[0].channel_ids", "{e}");
        let e = parse_err(&format!("{MINIMAL}{}", SMS.replace("[_cms_sms_]", "[\"\"]")));
        assert!(e.message.contains("channel id is empty"), "{e}");
    }

    #[test]
    fn cloudbase_sms_is_for_mini_programs() {
        let e = parse_err(&format!("{OFFICIAL}{SMS}"));
        assert_eq!(e.key, "apps[0].collectors.cloudbase_sms", "{e}");
        assert!(e.message.contains("cloudbase_sms is for miniprogram apps, and this one is official_account"), "{e}");
        assert_eq!(e.line, Some(7), "{e}");
    }

    #[test]
    fn errors_point_into_the_right_app() {
        // The second app's mistake is found on its own lines, not on the first app's.
        let two = format!("{MINIMAL}{SMS}  - name: other\n    appid: wx3\n    account: miniprogram\n    secret: s\n    collectors:\n      cloudbase_sms:\n        activities: [{{activity_id: a}}]\n");
        let e = parse_err(&two);
        assert_eq!(e.key, "apps[1].collectors.cloudbase_sms.env_id", "{e}");
        assert_eq!(e.line, Some(18), "{e}");
    }

    #[test]
    fn realtime_log_settings_and_their_limits() {
        let c = parse_ok(&format!("{MINIMAL}    collectors:\n      realtime_log:\n        interval: 30s\n        settle: 2m\n        budget: 10\n        by_url: true\n"));
        let rt = &c.apps[0].collectors[0];
        assert_eq!(rt.interval, Duration::from_secs(30));
        assert_eq!(
            rt.spec.settings::<realtime_log::Settings>(),
            Some(&realtime_log::Settings { settle: Duration::from_secs(120), budget: 10, by_url: true })
        );
        let d = parse_ok(&format!("{MINIMAL}    collectors:\n      realtime_log: {{}}\n"));
        assert_eq!(d.apps[0].collectors[0].interval, Duration::from_secs(60));
        assert_eq!(d.apps[0].collectors[0].spec.settings(), Some(&realtime_log::Settings::default()));
        assert!(d.warnings.is_empty());
        for bad in ["0", "51", "-1", "99999999999"] {
            let e = parse_err(&format!("{MINIMAL}    collectors:\n      realtime_log:\n        budget: {bad}\n"));
            assert_eq!(e.line, Some(8), "{e}");
            assert!(e.key.contains("realtime_log.budget"), "{e}");
            assert!(e.message.contains("1..=50"), "{e}");
        }
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      realtime_log: {{setle: 1m}}\n"));
        assert!(e.message.contains("unknown field `setle`") && e.message.contains("settle"), "{e}");
        let e = parse_err(&format!("{MINIMAL}    collectors:\n      realtime_log: {{by_url: sometimes}}\n"));
        assert!(e.key.contains("by_url"), "{e}");
        let e = parse_err(&format!("{}    collectors:\n      realtime_log: {{}}\n", MINIMAL.replace("miniprogram", "official_account")));
        assert!(e.message.contains("realtime_log is for miniprogram"), "{e}");
    }

    #[test]
    fn a_mini_program_counts_its_realtime_log_by_default() {
        let c = parse_ok(MINIMAL);
        let rt = c.apps[0].collectors.iter().find(|c| c.spec.name() == "realtime_log").expect("realtime_log runs by default");
        assert_eq!(rt.interval, Duration::from_secs(60));
        let s = c.summary();
        assert!(s.contains("realtime_log every 1m: realtimelogSearch: records by level from the exporter's start, windows searched 1m after they end, at most 40 searches a minute"), "{s}");
    }

    #[test]
    fn shards_split_the_apps_exactly_once() {
        let mut text = String::from("apps:\n");
        for i in 0..500 {
            text.push_str(&format!("  - {{name: app-{i}, appid: wx{i}, account: official_account, secret: s}}\n"));
        }
        let all = parse_ok(&text);
        for count in 1..=5u32 {
            let mut seen: Vec<String> = Vec::new();
            for index in 0..count {
                let mut c = all.clone();
                c.shard(count, index).unwrap();
                if count > 1 {
                    assert!(c.apps.len() < all.apps.len() && !c.apps.is_empty(), "shard {index}/{count} has {}", c.apps.len());
                }
                seen.extend(c.apps.iter().map(|a| a.name.to_string()));
            }
            seen.sort();
            let mut want: Vec<String> = all.apps.iter().map(|a| a.name.to_string()).collect();
            want.sort();
            assert_eq!(seen, want, "{count} shards serve every app exactly once");
        }
        assert!(all.clone().shard(3, 3).is_err());
    }

    #[test]
    fn summary_lists_what_is_polled() {
        let c = parse_ok(&format!("{MINIMAL}    collectors:\n      performance:\n        interval: 2h\n        queries: [{{cost_time_type: download, networktype: wifi}}]\n"));
        let s = c.summary();
        assert!(s.contains("performance every 2h: getPerformance: download (device all, networktype wifi"), "{s}");
        assert!(!s.contains("s3cr3t"));
    }
}
