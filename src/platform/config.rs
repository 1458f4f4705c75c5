//! The `platforms:` section of the config, read as strictly as `apps:`: unknown
//! keys are errors, `${VAR}` is expanded, and every mistake names the file, the
//! line and the key. Nothing here touches the network: a Redis URL is parsed,
//! never dialled, so `--config.check` can vouch for it offline.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::keys::{KeyKind, KeyTemplate};
use super::redis::RedisTarget;
use super::runner::PlatformSettings;
use crate::collectors::{Account, CollectorConfig};
use crate::config::ConfigError;

/// How often the authorizers are listed when `discover` is left out.
pub const DEFAULT_DISCOVER: Duration = Duration::from_secs(600);
/// Listing more often than this spends quota for nothing: accepted, with a warning.
const COMFORTABLE_DISCOVER: Duration = Duration::from_secs(60);

/// A `platforms:` entry as written; `C` is an app's `collectors:` block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform<C> {
    name: String,
    component_appid: String,
    redis: String,
    redis_ca_file: Option<String>,
    component_token_key: Option<String>,
    authorizer_token_key: Option<String>,
    #[serde(default, deserialize_with = "crate::config::duration")]
    discover: Option<Duration>,
    #[serde(default = "Option::default")]
    collectors: Option<RawKinds<C>>,
}

/// The collectors of each account kind, each block as an app's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKinds<C> {
    #[serde(default = "Option::default")]
    miniprogram: Option<C>,
    #[serde(default = "Option::default")]
    official_account: Option<C>,
}

/// A checked platform: where its tokens are, and what its apps run.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformConfig {
    pub settings: PlatformSettings,
    pub miniprogram: Arc<[CollectorConfig]>,
    pub official_account: Arc<[CollectorConfig]>,
}

impl PlatformConfig {
    /// The collectors a discovered app of `account` runs.
    pub fn collectors(&self, account: Account) -> &Arc<[CollectorConfig]> {
        match account {
            Account::Miniprogram => &self.miniprogram,
            Account::OfficialAccount => &self.official_account,
        }
    }

    /// `--config.check`'s lines for this platform.
    pub fn summary(&self) -> String {
        let s = &self.settings;
        let password = if s.redis.has_password() { " (with a password)" } else { "" };
        let ca = if s.redis.has_ca() { " (server certificate checked against redis_ca_file)" } else { "" };
        let mut out = format!(
            "platform {} (component {}): tokens from Redis {}{password}{ca} under {} and {}, authorizers listed every {}; never refreshed, nothing written\n",
            s.name,
            s.component_appid,
            s.redis.shown(),
            s.component_key,
            s.authorizer_key,
            humantime::format_duration(s.discover),
        );
        for account in [Account::Miniprogram, Account::OfficialAccount] {
            out.push_str(&format!("  {} apps:\n", account.as_str()));
            for c in self.collectors(account).iter() {
                out.push_str(&format!(
                    "    {} every {}: {}\n",
                    c.spec.name(),
                    humantime::format_duration(c.interval),
                    c.spec.describe()
                ));
            }
        }
        out
    }
}

/// A collector block's mistake, as the app collectors' reader reports it.
pub struct KindError {
    pub key: String,
    pub message: String,
    pub near: Vec<String>,
}

/// What checking a platform needs from the config reader.
pub struct Ctx<'a> {
    pub text: &'a str,
    pub file: &'a str,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The `app` labels configured apps use: a platform may not take one.
    pub app_names: &'a HashSet<String>,
}

impl Ctx<'_> {
    fn error(&self, line: Option<usize>, key: String, message: String) -> ConfigError {
        ConfigError { file: self.file.to_string(), line, key, message }
    }
}

/// The lines of the `i`-th platform: from its `- name:` (or `-`) line to the next
/// entry's, so a mistake is found on the platform's own lines.
fn platform_lines(text: &str, i: usize) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let Some(section) = lines.iter().position(|l| l.starts_with("platforms:")) else {
        return (1, lines.len());
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut starts = Vec::new();
    let mut item_indent = None;
    for (n, l) in lines.iter().enumerate().skip(section + 1) {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indent(l) == 0 {
            break;
        }
        if t.starts_with("- ") || t == "-" {
            let ind = indent(l);
            if item_indent.is_none_or(|i| i == ind) {
                item_indent = Some(ind);
                starts.push(n);
            }
        }
    }
    let end_of_section = lines
        .iter()
        .enumerate()
        .skip(section + 1)
        .find(|(_, l)| !l.trim().is_empty() && !l.starts_with([' ', '\t', '#']))
        .map_or(lines.len(), |(n, _)| n);
    match starts.get(i) {
        Some(&s) => (s + 1, starts.get(i + 1).copied().unwrap_or(end_of_section)),
        None => (section + 1, end_of_section),
    }
}

/// The 1-based line of the first line in `range` containing every needle.
fn line_in(text: &str, (from, to): (usize, usize), needles: &[&str]) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .take(to.saturating_sub(from.saturating_sub(1)))
        .find(|(_, l)| needles.iter().all(|n| l.contains(n)))
        .map(|(n, _)| n + 1)
}

/// The largest CA file read: a bundle of a few certificates is a few KB.
const MAX_CA_BYTES: u64 = 1 << 20;

/// Reads a PEM CA file: a regular file, not too large.
fn read_ca(path: &str) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{path} is not a regular file"));
    }
    if meta.len() > MAX_CA_BYTES {
        return Err(format!("{path} is larger than {MAX_CA_BYTES} bytes; a CA file is a few KB"));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Checks every platform. `resolve` turns a collectors block into the kind's
/// collectors (its defaults when the block is left out), as it does for apps.
pub fn check<C>(
    cx: &Ctx<'_>,
    raw: Vec<RawPlatform<C>>,
    resolve: &dyn Fn(Option<C>, Account) -> Result<Vec<CollectorConfig>, KindError>,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlatformConfig>, ConfigError> {
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, p) in raw.into_iter().enumerate() {
        // Lines are looked up only to point at a mistake: loading stays linear.
        let range = || platform_lines(cx.text, i);
        let key = |k: &str| format!("platforms[{i}].{k}");
        let expand = |field: &str, value: &str| -> Result<String, ConfigError> {
            crate::config::expand(value, cx.env).map_err(|var| {
                let range = range();
                cx.error(
                    line_in(cx.text, range, &[&format!("${{{var}}}")]).or(Some(range.0)),
                    key(field),
                    format!("environment variable {var} is not set; set it or write the value in the file"),
                )
            })
        };
        let at_field = |field: &str, message: String| {
            let range = range();
            cx.error(line_in(cx.text, range, &[&format!("{field}:")]).or(Some(range.0)), key(field), message)
        };

        let name = expand("name", &p.name)?.trim().to_string();
        if name.is_empty() {
            return Err(at_field("name", "a platform needs a name (the `platform` label)".into()));
        }
        if !names.insert(name.clone()) {
            return Err(at_field("name", format!("the platform name {name:?} is used twice; names must be unique")));
        }
        if cx.app_names.contains(&name) {
            return Err(at_field(
                "name",
                format!("{name:?} is also an app's name; the platform's own series carry its name as `app`, so it must differ"),
            ));
        }
        let component_appid = expand("component_appid", &p.component_appid)?.trim().to_string();
        if component_appid.is_empty() {
            return Err(at_field("component_appid", "the component_appid is empty".into()));
        }
        // The URL may hold a password: no message below repeats it.
        let url = expand("redis", &p.redis)?;
        let ca = match &p.redis_ca_file {
            Some(f) => Some(read_ca(&expand("redis_ca_file", f)?).map_err(|m| at_field("redis_ca_file", m))?),
            None => None,
        };
        let redis = RedisTarget::with_ca(&url, ca.as_deref()).map_err(|m| {
            let field = if m.starts_with("the CA file") { "redis_ca_file" } else { "redis" };
            at_field(field, m)
        })?;
        let template = |field: &str, value: &Option<String>, kind: KeyKind| -> Result<KeyTemplate, ConfigError> {
            match value {
                None => Ok(KeyTemplate::default_for(kind)),
                Some(v) => {
                    let v = expand(field, v)?;
                    KeyTemplate::parse(v.trim(), kind).map_err(|m| at_field(field, m))
                }
            }
        };
        let component_key = template("component_token_key", &p.component_token_key, KeyKind::Component)?;
        let authorizer_key = template("authorizer_token_key", &p.authorizer_token_key, KeyKind::Authorizer)?;
        let discover = p.discover.unwrap_or(DEFAULT_DISCOVER);
        if discover < crate::config::MIN_INTERVAL {
            return Err(at_field("discover", format!("{} is shorter than the shortest interval, 1s", humantime::format_duration(discover))));
        }
        if discover < COMFORTABLE_DISCOVER {
            warnings.push(format!(
                "platform {name:?}: listing the authorizers every {} spends api_get_authorizer_list quota faster than apps come and go (at least {} is advised)",
                humantime::format_duration(discover),
                humantime::format_duration(COMFORTABLE_DISCOVER)
            ));
        }

        let (mini, official) = match p.collectors {
            Some(k) => (k.miniprogram, k.official_account),
            None => (None, None),
        };
        let mut kinds = Vec::new();
        for (account, block) in [(Account::Miniprogram, mini), (Account::OfficialAccount, official)] {
            let collectors = resolve(block, account).map_err(|e| {
                let range = range();
                let kind_line = line_in(cx.text, range, &[&format!("{}:", account.as_str())]);
                let line = e
                    .near
                    .iter()
                    .find_map(|n| line_in(cx.text, (kind_line.unwrap_or(range.0), range.1), &[n]))
                    .or(kind_line)
                    .or(Some(range.0));
                cx.error(line, key(&format!("collectors.{}.{}", account.as_str(), e.key)), e.message)
            })?;
            for c in &collectors {
                let (interval, comfortable) = (c.interval, c.spec.kind().comfortable_interval());
                if interval < crate::config::MIN_INTERVAL {
                    let range = range();
                    let block = line_in(cx.text, range, &[&format!("{}:", c.spec.name())]);
                    return Err(cx.error(
                        block.or(Some(range.0)),
                        key(&format!("collectors.{}.{}.interval", account.as_str(), c.spec.name())),
                        format!("{} is shorter than the shortest interval, 1s", humantime::format_duration(interval)),
                    ));
                }
                if interval < comfortable {
                    warnings.push(format!(
                        "platform {name:?}, {} apps: {} every {} is more often than WeChat's quota comfortably allows (at least {} is advised)",
                        account.as_str(),
                        c.spec.name(),
                        humantime::format_duration(interval),
                        humantime::format_duration(comfortable)
                    ));
                }
            }
            kinds.push(collectors);
        }
        let official_account = kinds.pop().unwrap_or_default();
        let miniprogram = kinds.pop().unwrap_or_default();
        out.push(PlatformConfig {
            settings: PlatformSettings {
                name: Arc::from(name),
                component_appid,
                redis,
                component_key,
                authorizer_key,
                discover,
            },
            miniprogram: miniprogram.into(),
            official_account: official_account.into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Config};

    fn env(name: &str) -> Option<String> {
        (name == "REDIS_PASSWORD").then(|| "pw-s3cret-123".to_string())
    }

    const SPEC: &str = "platforms:
  - name: acme
    component_appid: wxcomponent00000001
    redis: redis://127.0.0.1:6379/0
    component_token_key: \"wechat_component_access_token:{component_appid}\"
    authorizer_token_key: \"wechat_authorizer_access_token:{component_appid}:{appid}\"
    discover: 10m
    collectors:
      miniprogram: {visit_trend: {interval: 1h}, performance: {interval: 1h}}
      official_account: {interface_summary: {interval: 1h}}
";

    fn ok(text: &str) -> Config {
        parse(text, "test.yml", &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> ConfigError {
        parse(text, "test.yml", &env).expect_err("a config error")
    }

    #[test]
    fn the_spec_example_reads_as_written() {
        let c = ok(SPEC);
        assert!(c.apps.is_empty());
        let p = &c.platforms[0];
        assert_eq!(&*p.settings.name, "acme");
        assert_eq!(p.settings.component_appid, "wxcomponent00000001");
        assert_eq!(p.settings.redis.shown(), "redis://127.0.0.1:6379/0");
        assert_eq!(p.settings.component_key, KeyTemplate::default_for(KeyKind::Component));
        assert_eq!(p.settings.authorizer_key, KeyTemplate::default_for(KeyKind::Authorizer));
        assert_eq!(p.settings.discover, Duration::from_secs(600));
        let names = |a: Account| p.collectors(a).iter().map(|c| c.spec.name()).collect::<Vec<_>>();
        assert_eq!(names(Account::Miniprogram), vec!["visit_trend", "performance"]);
        assert_eq!(names(Account::OfficialAccount), vec!["interface_summary"]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn defaults_fill_what_is_left_out_and_apps_mix_in() {
        let text = "apps:\n  - name: shop\n    appid: wx1\n    account: miniprogram\n    secret: s\nplatforms:\n  - name: acme\n    component_appid: wxc\n    redis: rediss://u:${REDIS_PASSWORD}@redis.internal:6380/2\n    collectors:\n      official_account: {interface_summary: {interval: 30m}}\n";
        let c = ok(text);
        assert_eq!(c.apps.len(), 1);
        let p = &c.platforms[0];
        assert_eq!(p.settings.discover, DEFAULT_DISCOVER);
        let mini: Vec<&str> = p.collectors(Account::Miniprogram).iter().map(|c| c.spec.name()).collect();
        let defaults: Vec<&str> = crate::collectors::Spec::defaults(Account::Miniprogram).iter().map(|s| s.name()).collect();
        assert_eq!(mini, defaults, "a kind left out runs its defaults");
        assert_eq!(p.collectors(Account::OfficialAccount)[0].interval, Duration::from_secs(1800));
        assert_eq!(p.settings.redis.shown(), "rediss://redis.internal:6380/2");
        // Nothing shows the password: not Debug, not the summary.
        let shown = format!("{c:?} {}", c.summary());
        assert!(!shown.contains("pw-s3cret"), "{shown}");
        assert!(c.summary().contains("platform acme (component wxc): tokens from Redis rediss://redis.internal:6380/2 (with a password)"), "{}", c.summary());
    }

    #[test]
    fn mistakes_name_the_line_and_the_key_and_never_the_password() {
        let e = err(&SPEC.replace("    discover: 10m\n", "    discover: 10m\n    refresh: 1h\n"));
        assert_eq!((e.line, e.key.as_str()), (Some(8), "platforms[0].refresh"), "{e}");
        assert!(e.message.contains("unknown field `refresh`"), "{e}");
        let e = err(&SPEC.replace("      miniprogram:", "      mini_program:"));
        assert!(e.key.starts_with("platforms[0].collectors"), "{e}");
        assert!(e.message.contains("miniprogram") && e.message.contains("official_account"), "{e}");
        let e = err(&SPEC.replace("{visit_trend: {interval: 1h}, performance", "{interface_summary: {interval: 1h}, performance"));
        assert_eq!(e.key, "platforms[0].collectors.miniprogram.interface_summary", "{e}");
        assert_eq!(e.line, Some(9), "{e}");
        let e = err(&SPEC.replace("{component_appid}:{appid}", "{component_appid}"));
        assert_eq!((e.line, e.key.as_str()), (Some(6), "platforms[0].authorizer_token_key"), "{e}");
        let e = err(&SPEC.replace("redis://127.0.0.1:6379/0", "http://:${REDIS_PASSWORD}@127.0.0.1:6379/0"));
        assert_eq!((e.line, e.key.as_str()), (Some(4), "platforms[0].redis"), "{e}");
        assert!(!e.to_string().contains("pw-s3cret"), "{e}");
        let e = err(&SPEC.replace("redis://127.0.0.1:6379/0", "redis://:${NOPE}@127.0.0.1:6379/0"));
        assert_eq!((e.line, e.key.as_str()), (Some(4), "platforms[0].redis"), "{e}");
        assert!(e.message.contains("NOPE is not set"), "{e}");
        let twice = format!("{SPEC}{}", &SPEC["platforms:\n".len()..]);
        let e = err(&twice);
        assert_eq!((e.line, e.key.as_str()), (Some(11), "platforms[1].name"), "{e}");
        let e = err(&format!("apps:\n  - name: acme\n    appid: wx1\n    account: miniprogram\n    secret: s\n{SPEC}"));
        assert!(e.message.contains("also an app's name"), "{e}");
        let e = err("platforms: []\n");
        assert!(e.message.contains("no apps or platforms"), "{e}");
    }

    #[test]
    fn intervals_under_a_second_are_refused() {
        let e = err(&SPEC.replace("discover: 10m", "discover: 100ms"));
        assert_eq!((e.line, e.key.as_str()), (Some(7), "platforms[0].discover"), "{e}");
        let e = err(&SPEC.replace("{visit_trend: {interval: 1h}", "{visit_trend: {interval: 1ns}"));
        assert_eq!((e.line, e.key.as_str()), (Some(9), "platforms[0].collectors.miniprogram.visit_trend.interval"), "{e}");
        assert!(e.message.contains("shortest interval, 1s"), "{e}");
    }

    #[test]
    fn frequent_discovery_is_allowed_with_a_warning() {
        let c = ok(&SPEC.replace("discover: 10m", "discover: 5s"));
        assert_eq!(c.platforms[0].settings.discover, Duration::from_secs(5));
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    #[test]
    fn each_platform_has_its_own_lines() {
        let text = "wechat:\n  timeout: 3s\nplatforms:\n  - name: a\n    redis: x\n  - name: b\n    redis: y\napps:\n  - name: z\n";
        assert_eq!(platform_lines(text, 0), (4, 5));
        assert_eq!(platform_lines(text, 1), (6, 7));
        assert_eq!(line_in(text, platform_lines(text, 1), &["redis:"]), Some(7));
        let flow = "platforms:\n  - {name: a, redis: x}\n";
        assert_eq!(platform_lines(flow, 0), (2, 2));
    }
}
