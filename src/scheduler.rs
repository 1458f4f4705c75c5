//! The scheduler: every (app, collector) pair polls on its own interval and hands
//! its result to the store. A pair waits in the [`timetable`] and polls in a task of
//! its own, so a slow or failing app holds up nobody else; the shared client bounds
//! how many requests are in flight.

mod status;
mod timetable;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use self::status::StatusTable;
use self::timetable::{PollerId, Timetable};

use crate::collectors::{Collector, CollectorConfig, Output, PollContext};
use crate::config::{shard_of, AppConfig, Config};
use crate::cst;
use crate::platform::{self, PlatformConfig, Runner};
use crate::store::{Sample, Store};
use crate::telemetry::{self, Live};
use crate::wechat::{AppClient, WechatClient, WechatError};

/// Where the time comes from: the wall clock, or a test's.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// The store part that holds an app's own telemetry and info.
pub const EXPORTER_PART: &str = "exporter";

/// What the landing page and `/readyz` know of one collector.
#[derive(Clone, Debug)]
pub struct CollectorStatus {
    pub interval: Duration,
    pub polls: u64,
    pub up: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub data_date: Option<chrono::NaiveDate>,
}

/// State shared by the poller tasks and the web server.
pub struct Shared {
    pub store: Arc<Store>,
    pub live: Arc<Live>,
    pub clock: Clock,
    status: RwLock<StatusTable>,
    /// `wechat.quiet_day_after` in seconds, as the config last applied says.
    quiet_after: AtomicU64,
}

impl Shared {
    pub fn new(store: Arc<Store>, live: Arc<Live>, clock: Clock) -> Arc<Shared> {
        Arc::new(Shared {
            store,
            live,
            clock,
            status: RwLock::default(),
            quiet_after: AtomicU64::new(crate::collectors::newest::QUIET_AFTER.as_secs()),
        })
    }

    /// A copy of every collector's status, ordered by app and collector.
    pub fn status(&self) -> Vec<(Arc<str>, &'static str, CollectorStatus)> {
        let st = self.status.read().unwrap_or_else(|e| e.into_inner());
        st.iter().map(|(a, c, s)| (a.clone(), c, s.clone())).collect()
    }
}

/// One app as it runs: its client (tokens, counters) and its collectors' pollers.
struct RunningApp {
    /// The app's config, one copy shared with its pollers and the scheduler's config.
    config: Arc<AppConfig>,
    client: Arc<AppClient>,
    /// In the timetable: the poller of each of `config.collectors`, in that order.
    pollers: Vec<PollerId>,
}

pub struct Scheduler {
    shared: Arc<Shared>,
    client: Option<Arc<WechatClient>>,
    apps: HashMap<Arc<str>, RunningApp>,
    /// The config in force, its apps taken out into `configured`.
    config: Option<Config>,
    /// The config's apps, each shared with its running app rather than copied.
    configured: Vec<Arc<AppConfig>>,
    /// Every poller between polls; started with the first app.
    timetable: Option<Timetable>,
    platforms: Vec<RunningPlatform>,
    /// Told whenever a platform's discovery has something new; see [`Scheduler::changes`].
    changed: mpsc::UnboundedSender<()>,
    changes: Option<mpsc::UnboundedReceiver<()>>,
}

/// A platform at work: its discovery task, and a task that says when it found something.
struct RunningPlatform {
    config: PlatformConfig,
    shard: (u32, u32),
    runner: Runner,
    forward: JoinHandle<()>,
    /// Appids already polled elsewhere, said once each.
    skipped: HashSet<String>,
}

impl Drop for RunningPlatform {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

/// The name of a platform's discovery, as a collector's in the status and `up`.
pub const DISCOVERY: &str = "discovery";

/// Everything one poll needs.
struct Poller {
    shared: Arc<Shared>,
    /// The app's name; its config as in force now is in the status table.
    app: Arc<str>,
    client: Arc<AppClient>,
    name: &'static str,
    interval: Duration,
    collector: Box<dyn Collector>,
}

impl Poller {
    fn new(shared: Arc<Shared>, app: &Arc<AppConfig>, client: Arc<AppClient>, c: &CollectorConfig) -> Poller {
        let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
        status.set_config(app);
        status.insert(
            &app.name,
            c.spec.name(),
            CollectorStatus { interval: c.interval, polls: 0, up: false, last_success: None, last_error: None, data_date: None },
        );
        drop(status);
        Poller { shared, app: app.name.clone(), client, name: c.spec.name(), interval: c.interval, collector: c.spec.build() }
    }

    /// One try of the collector's poll, at the clock's time.
    async fn try_once(&mut self) -> (DateTime<Utc>, Result<Output, WechatError>) {
        let now = (self.shared.clock)();
        let quiet_after = Duration::from_secs(self.shared.quiet_after.load(Ordering::Relaxed));
        let cx = PollContext { client: &self.client, now, quiet_after };
        let result = self.collector.poll(&cx).await;
        (now, result)
    }

    /// Polls once and stores the result. A transient failure is tried once more after a
    /// short pause, so a blip costs no data. After a failure the collector's part is left
    /// as it was, so the last good values stay served; only its status changes.
    async fn poll(&mut self) -> Result<(), WechatError> {
        let (mut now, mut result) = self.try_once().await;
        if let Err(e) = &result
            && retry_within_poll(e)
        {
            let pause = retry_pause(self.interval);
            tracing::debug!(app = &*self.app, collector = self.name, reason = %e.reason(), error = %e, retry_in = ?pause, "poll failed; trying again");
            tokio::time::sleep(pause).await;
            (now, result) = self.try_once().await;
        }
        // Status and store change together, under the status lock: a reload that removed
        // this pair while it polled has taken its status away, and then nothing is written
        // back (an aborted task runs on to its next await).
        let mut status = self.shared.status.write().unwrap_or_else(|e| e.into_inner());
        let Some(s) = status.get_mut(&self.app, self.name) else {
            return result.map(|_| ());
        };
        s.polls += 1;
        s.up = result.is_ok();
        // The result is taken apart here: its samples go to the store as they are.
        let result = match result {
            Ok(out) => {
                tracing::debug!(app = &*self.app, collector = self.name, samples = out.samples.len(), "poll succeeded");
                s.last_success = Some(now);
                s.last_error = None;
                s.data_date = out.data_date.or(s.data_date);
                let mut samples = out.samples;
                if let Some(day) = out.data_date {
                    samples.push(Sample::new(&telemetry::DATA_DATE, cst::day_start(day) as f64).label("collector", self.name));
                }
                self.shared.store.replace(&self.app, self.name, &samples);
                Ok(())
            }
            Err(e) => {
                s.last_error = Some(e.to_string());
                Err(e)
            }
        };
        if let Some(app) = status.config(&self.app).cloned() {
            store_exporter_part(&self.shared, &status, &app, &self.client);
        }
        drop(status);
        // Said once the failure is counted in the store, so what the log says has happened a
        // scrape shows too.
        if let Err(e) = &result {
            tracing::warn!(app = &*self.app, collector = self.name, reason = %e.reason(), error = %e, "poll failed");
        }
        result
    }
}

/// The pause before a poll's second try: short, and well inside the interval.
const RETRY_PAUSE: Duration = Duration::from_secs(2);
/// The wait before the next poll after a poll that failed on a transient error, doubling
/// with every further such failure, up to the interval.
const RETRY_FIRST: Duration = Duration::from_secs(30);

/// A failure that says nothing about the request itself: the network or WeChat blinked
/// (a timeout, a broken connection, a 5xx, errcode -1 "system busy"). A pause the client
/// imposes after one (a token fetch backing off) counts as one too, and so does a
/// platform's token that is not there yet (Redis down, a key the platform has yet to
/// write): an hourly collector then recovers within minutes of the token, not an hour.
fn transient(e: &WechatError) -> bool {
    match e {
        WechatError::Timeout | WechatError::Connect(_) | WechatError::TokenUnavailable(_) => true,
        WechatError::Http { status } => *status >= 500,
        WechatError::Api { code, .. } => *code == -1,
        WechatError::Backoff { cause, .. } => transient(cause),
        _ => false,
    }
}

/// Whether a failed try is worth a second one within the same poll: a transient failure
/// that was a real request, not the client declining to make one.
fn retry_within_poll(e: &WechatError) -> bool {
    transient(e) && !matches!(e, WechatError::Backoff { .. })
}

fn retry_pause(interval: Duration) -> Duration {
    RETRY_PAUSE.min(interval / 8).saturating_add(jitter(RETRY_PAUSE.min(interval / 8) / 2))
}

/// How long until the next poll, after `failed_in_a_row` polls in a row that failed on a
/// transient error: the interval when the last one did not, otherwise RETRY_FIRST (at most
/// an eighth of the interval) doubled for each further failure, never beyond the interval.
fn next_wait(interval: Duration, failed_in_a_row: u32) -> Duration {
    if failed_in_a_row == 0 {
        return interval;
    }
    let first = RETRY_FIRST.min(interval / 8);
    first.saturating_mul(1 << (failed_in_a_row - 1).min(20)).min(interval)
}

/// How long after start a collector first polls. A few apps poll at once; a large
/// fleet is spread over a window that grows with it (5 ms a collector, at most the
/// interval), each pair at a fixed phase, so 10,000 apps do not fire together and
/// keep their spacing afterwards.
fn first_delay(app: &str, collector: &str, interval: Duration, pairs: usize) -> Duration {
    let window = Duration::from_millis(5 * pairs as u64).min(interval);
    let phase = crate::fnv::hash_parts(&[app, collector]) as f64 / u64::MAX as f64;
    window.mul_f64(phase)
}

fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return max;
    }
    Duration::from_nanos(fastrand::u64(0..max.as_nanos().min(u64::MAX as u128) as u64))
}

/// An app's own part: its info, its request and token counters, and each of its
/// collectors' `up` and last success. Written after every poll of any of them, by a
/// caller holding the status write lock, so the newest counters are always the ones
/// stored last.
fn store_exporter_part(shared: &Shared, status: &StatusTable, app: &AppConfig, client: &AppClient) {
    let mut samples = client.telemetry.samples();
    let mut info =
        Sample::new(&telemetry::APP_INFO, 1.0).label("appid", app.appid.clone()).label("account", app.account.as_str());
    if let Some(p) = &app.platform {
        info = info.label("platform", p.platform.to_string()).label("nickname", p.nickname.clone());
    }
    samples.push(info);
    status_samples(&mut samples, status, &app.name);
    shared.store.replace(&app.name, EXPORTER_PART, &samples);
}

/// A platform's own part: its calls' counters, its discovery's `up` and last
/// success, and how many apps it found, under the platform's name as `app`.
fn store_platform_part(shared: &Shared, status: &StatusTable, p: &RunningPlatform, apps: usize) {
    let name = &p.config.settings.name;
    let mut samples = p.runner.client.telemetry.samples();
    samples.retain(|s| s.desc != telemetry::TOKEN_REFRESHES && s.desc != telemetry::TOKEN_REFRESH_FAILURES);
    if p.runner.snapshot().apps.is_some() {
        samples.push(Sample::new(&telemetry::PLATFORM_AUTHORIZERS, apps as f64));
    }
    status_samples(&mut samples, status, name);
    shared.store.replace(name, EXPORTER_PART, &samples);
}

/// `up` and last success of every collector of `app` that has polled.
fn status_samples(samples: &mut Vec<Sample>, status: &StatusTable, app: &Arc<str>) {
    for (collector, s) in status.of(app) {
        samples.push(Sample::new(&telemetry::COLLECTOR_INTERVAL, s.interval.as_secs_f64()).label("collector", *collector));
        if s.polls == 0 {
            continue;
        }
        samples.push(Sample::new(&telemetry::COLLECTOR_UP, if s.up { 1.0 } else { 0.0 }).label("collector", *collector));
        if let Some(t) = s.last_success {
            samples.push(
                Sample::new(&telemetry::LAST_SUCCESS, t.timestamp_millis() as f64 / 1000.0).label("collector", *collector),
            );
        }
    }
}

impl Scheduler {
    pub fn new(shared: Arc<Shared>) -> Scheduler {
        let (changed, changes) = mpsc::unbounded_channel();
        Scheduler {
            shared,
            client: None,
            apps: HashMap::new(),
            config: None,
            configured: Vec::new(),
            timetable: None,
            platforms: Vec::new(),
            changed,
            changes: Some(changes),
        }
    }

    /// Says when a platform's discovery found something (or failed): the owner then
    /// calls [`Scheduler::sync`]. Taken once.
    pub fn changes(&mut self) -> Option<mpsc::UnboundedReceiver<()>> {
        self.changes.take()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The running client of an app, for tests and telemetry.
    pub fn app_client(&self, name: &str) -> Option<Arc<AppClient>> {
        self.apps.get(name).map(|a| a.client.clone())
    }

    /// Makes the running set match `config`: apps and collectors that are new start,
    /// those gone stop and take their series with them, unchanged ones keep running
    /// (with their tokens). Platforms whose settings are unchanged keep their
    /// discovery and their apps; their apps' collectors follow the new config.
    pub fn apply(&mut self, config: &Config) -> Result<(), WechatError> {
        self.shared.quiet_after.store(config.wechat.quiet_day_after.as_secs(), Ordering::Relaxed);
        let client = match &self.client {
            Some(c) if c.settings() == &config.wechat.client => c.clone(),
            _ => Arc::new(WechatClient::new(config.wechat.client.clone(), self.shared.live.clone())?),
        };
        let client_changed = !self.client.as_ref().is_some_and(|c| Arc::ptr_eq(c, &client));
        self.client = Some(client.clone());
        self.start_platforms(config, &client, client_changed);
        // The apps are kept once, shared with the running apps (10,000 apps' configs are
        // megabytes); the rest of the config is small.
        // An app whose config is unchanged keeps the copy its running app and pollers hold.
        self.configured = config
            .apps
            .iter()
            .map(|a| match self.apps.get(&a.name) {
                Some(r) if *r.config == *a => r.config.clone(),
                _ => Arc::new(a.clone()),
            })
            .collect();
        self.config = Some(Config { apps: Vec::new(), ..config.clone() });
        self.run(&client, client_changed);
        Ok(())
    }

    /// Polls what the platforms' discoveries found since the last call: new apps
    /// start, departed ones stop and take their series with them.
    pub fn sync(&mut self) {
        if let Some(client) = self.client.clone() {
            self.run(&client, false);
        }
    }

    /// Keeps the platforms whose settings (and shard, and WeChat client) are
    /// unchanged, stops the others, starts the new.
    fn start_platforms(&mut self, config: &Config, client: &Arc<WechatClient>, client_changed: bool) {
        let mut old = std::mem::take(&mut self.platforms);
        let mut kept: Vec<Option<RunningPlatform>> = config
            .platforms
            .iter()
            .map(|p| {
                let i = old.iter().position(|r| !client_changed && r.config.settings == p.settings && r.shard == config.shard)?;
                let mut r = old.remove(i);
                r.config = p.clone();
                Some(r)
            })
            .collect();
        for gone in old {
            let name = gone.config.settings.name.clone();
            drop(gone);
            self.shared.status.write().unwrap_or_else(|e| e.into_inner()).remove(&name, DISCOVERY);
            self.shared.store.remove_app(&name);
        }
        for (p, kept) in config.platforms.iter().zip(kept.iter_mut()) {
            let running = match kept.take() {
                Some(r) => r,
                None => match self.start_platform(p, config.shard, client) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(platform = &*p.settings.name, error = %e, "cannot start the platform");
                        continue;
                    }
                },
            };
            self.platforms.push(running);
        }
    }

    fn start_platform(&self, p: &PlatformConfig, shard: (u32, u32), client: &Arc<WechatClient>) -> Result<RunningPlatform, platform::StoreError> {
        let (count, index) = shard;
        let wanted: platform::runner::Wanted = Arc::new(move |appid: &str| shard_of(appid, count) == index);
        let runner = Runner::start(p.settings.clone(), client.clone(), wanted, self.shared.clock.clone())?;
        let mut rx = runner.watch();
        let tx = self.changed.clone();
        let forward = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        self.shared.status.write().unwrap_or_else(|e| e.into_inner()).insert(
            &p.settings.name,
            DISCOVERY,
            CollectorStatus { interval: p.settings.discover, polls: 0, up: false, last_success: None, last_error: None, data_date: None },
        );
        tracing::info!(platform = &*p.settings.name, redis = p.settings.redis.shown(), "platform started: discovering its authorizers");
        Ok(RunningPlatform { config: p.clone(), shard, runner, forward, skipped: HashSet::new() })
    }

    /// Every app to poll: the configured ones, then each platform's as last
    /// discovered. An app already polled (configured, or found by an earlier
    /// platform) is polled once, by the first.
    fn wanted_apps(&mut self) -> (Vec<Arc<AppConfig>>, Vec<usize>) {
        let mut apps = self.configured.clone();
        let mut claimed: HashSet<String> = apps.iter().flat_map(|a| [a.name.to_string(), a.appid.clone()]).collect();
        claimed.extend(self.platforms.iter().map(|p| p.config.settings.name.to_string()));
        let mut counts = Vec::with_capacity(self.platforms.len());
        for p in &mut self.platforms {
            let found = p.runner.snapshot().apps.unwrap_or_default();
            let before = apps.len();
            for a in found.iter() {
                if !claimed.insert(a.appid.clone()) {
                    if p.skipped.insert(a.appid.clone()) {
                        tracing::warn!(platform = &*p.config.settings.name, appid = a.appid, "app already polled (configured, or found by another platform first); polled once, there");
                    }
                    continue;
                }
                apps.push(Arc::new(platform::app_config(&p.config, &p.runner.tokens, a)));
            }
            counts.push(apps.len() - before);
        }
        (apps, counts)
    }

    fn run(&mut self, client: &Arc<WechatClient>, client_changed: bool) {
        if self.config.is_none() {
            return;
        }
        let (apps, counts) = self.wanted_apps();

        let wanted: HashMap<&str, &AppConfig> = apps.iter().map(|a| (&*a.name, &**a)).collect();
        let pairs: usize = apps.iter().map(|a| a.collectors.len()).sum();
        let gone: Vec<Arc<str>> = self.apps.keys().filter(|n| !wanted.contains_key(&***n)).cloned().collect();
        for name in gone {
            self.stop_app(&name);
        }

        let timetable = self.timetable.get_or_insert_with(Timetable::start);
        for app in &apps {
            let keep_client = self.apps.get(&app.name).is_some_and(|r| {
                !client_changed && r.config.appid == app.appid && r.config.credential == app.credential
            });
            if !keep_client {
                stop_app(&self.shared, &mut self.apps, timetable, &app.name);
            }
            let shared = self.shared.clone();
            let running = self.apps.entry(app.name.clone()).or_insert_with(|| RunningApp {
                config: app.clone(),
                client: Arc::new(AppClient::new(app.name.clone(), client.clone(), app.credential.clone())),
                pollers: Vec::new(),
            });
            let app_client = running.client.clone();
            // Collectors unchanged keep their pollers; those changed or gone stop first, so
            // a changed one's new poller starts with a status and a part of its own.
            let kept: Vec<Option<PollerId>> = app
                .collectors
                .iter()
                .map(|c| running.config.collectors.iter().position(|have| have == c).and_then(|i| running.pollers.get(i).copied()))
                .collect();
            for (c, id) in running.config.collectors.iter().zip(running.pollers.iter()) {
                if kept.contains(&Some(*id)) {
                    continue;
                }
                timetable.remove(*id);
                let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
                status.remove(&app.name, c.spec.name());
                shared.store.remove_part(&app.name, c.spec.name());
            }
            let pollers = app.collectors.iter().zip(kept).map(|(c, kept)| {
                kept.unwrap_or_else(|| {
                    let poller = Poller::new(shared.clone(), app, app_client.clone(), c);
                    timetable.add(poller, first_delay(&app.name, c.spec.name(), c.interval, pairs))
                })
            });
            let pollers = pollers.collect();
            running.pollers = pollers;
            // Unchanged, the copy in force stays the only one (a platform's apps come anew
            // at every discovery); changed, the pollers kept read the new one from now on.
            if *running.config != **app {
                running.config = app.clone();
            }
            let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
            status.set_config(&running.config);
            store_exporter_part(&shared, &status, app, &app_client);
        }

        // Each platform's discovery, as a collector of the platform: its status and part.
        let mut status = self.shared.status.write().unwrap_or_else(|e| e.into_inner());
        for (p, count) in self.platforms.iter().zip(counts) {
            let snap = p.runner.snapshot();
            if let Some(s) = status.get_mut(&p.config.settings.name, DISCOVERY) {
                s.interval = p.config.settings.discover;
                s.polls = snap.attempts;
                s.up = snap.up;
                s.last_success = snap.last_success;
                s.last_error = snap.last_error.clone();
            }
            store_platform_part(&self.shared, &status, p, count);
        }
    }

    fn stop_app(&mut self, name: &Arc<str>) {
        if let Some(timetable) = &self.timetable {
            stop_app(&self.shared, &mut self.apps, timetable, name);
        }
    }

    /// Stops every poller, a poll under way included.
    pub fn shutdown(&mut self) {
        self.platforms.clear();
        self.timetable = None;
        self.apps.clear();
    }
}

/// Stops an app's pollers and takes its status and series away.
fn stop_app(shared: &Shared, apps: &mut HashMap<Arc<str>, RunningApp>, timetable: &Timetable, name: &Arc<str>) {
    if let Some(app) = apps.remove(name) {
        for id in app.pollers {
            timetable.remove(id);
        }
        let mut status = shared.status.write().unwrap_or_else(|e| e.into_inner());
        status.remove_app(name);
        shared.store.remove_app(name);
    }
}

/// Polls every collector of `config` once, all at the same time, and stores the
/// results. Returns the failures as (app, collector, error).
pub async fn poll_once(shared: Arc<Shared>, config: &Config) -> Result<Vec<(String, String, WechatError)>, WechatError> {
    let client = Arc::new(WechatClient::new(config.wechat.client.clone(), shared.live.clone())?);
    shared.quiet_after.store(config.wechat.quiet_day_after.as_secs(), Ordering::Relaxed);
    let mut handles = Vec::new();
    let mut failures = Vec::new();
    // Each platform's apps, discovered once, polled like the configured ones.
    let mut apps = config.apps.clone();
    let mut claimed: HashSet<String> = config.apps.iter().flat_map(|a| [a.name.to_string(), a.appid.clone()]).collect();
    claimed.extend(config.platforms.iter().map(|p| p.settings.name.to_string()));
    for p in &config.platforms {
        let (found, telemetry) = platform::discover_once(p, &client, config.shard, &mut claimed).await;
        match found {
            Ok(found) => apps.extend(found),
            Err(e) => failures.push((p.settings.name.to_string(), DISCOVERY.to_string(), e)),
        }
        shared.store.replace(&p.settings.name, EXPORTER_PART, &telemetry);
    }
    for app in &apps {
        let app_client = Arc::new(AppClient::new(app.name.clone(), client.clone(), app.credential.clone()));
        let app_arc = Arc::new(app.clone());
        for c in app.collectors.iter() {
            let mut poller = Poller::new(shared.clone(), &app_arc, app_client.clone(), c);
            let (app, name) = (app.name.to_string(), c.spec.name().to_string());
            handles.push(tokio::spawn(async move { poller.poll().await.err().map(|e| (app, name, e)) }));
        }
        let status = shared.status.write().unwrap_or_else(|e| e.into_inner());
        store_exporter_part(&shared, &status, app, &app_client);
    }
    for h in handles {
        match h.await {
            Ok(Some(f)) => failures.push(f),
            Ok(None) => {}
            Err(e) => failures.push(("?".into(), "?".into(), WechatError::InvalidResponse(format!("poller stopped: {e}")))),
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_fleet_is_spread_and_a_small_one_starts_at_once() {
        let hour = Duration::from_secs(3600);
        for i in 0..50 {
            assert!(first_delay(&format!("app{i}"), "visit_trend", hour, 6) <= Duration::from_millis(30));
        }
        let delays: Vec<Duration> = (0..10_000).map(|i| first_delay(&format!("app{i}"), "visit_trend", hour, 30_000)).collect();
        let window = Duration::from_secs(150);
        assert!(delays.iter().all(|d| *d <= window));
        // Spread evenly: each tenth of the window holds roughly a tenth of the apps.
        for tenth in 0..10 {
            let lo = window.mul_f64(tenth as f64 / 10.0);
            let hi = window.mul_f64((tenth + 1) as f64 / 10.0);
            let n = delays.iter().filter(|d| **d >= lo && **d < hi).count();
            assert!((800..1200).contains(&n), "tenth {tenth}: {n}");
        }
        // Never longer than the interval itself.
        assert!(first_delay("a", "realtime_log", Duration::from_secs(60), 1_000_000) <= Duration::from_secs(60));
    }

    #[test]
    fn after_transient_failures_the_next_poll_comes_sooner_backing_off_to_the_interval() {
        let hour = Duration::from_secs(3600);
        let waits: Vec<u64> = (0..10).map(|n| next_wait(hour, n).as_secs()).collect();
        assert_eq!(waits, [3600, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        // A short interval backs off from an eighth of itself.
        let minute = Duration::from_secs(60);
        let waits: Vec<f64> = (0..6).map(|n| next_wait(minute, n).as_secs_f64()).collect();
        assert_eq!(waits, [60.0, 7.5, 15.0, 30.0, 60.0, 60.0]);
        assert_eq!(next_wait(hour, u32::MAX), hour, "no overflow however long it fails");
        // The pause within a poll is short, and short intervals shorten it.
        assert!((2.0..=3.0).contains(&retry_pause(hour).as_secs_f64()));
        assert!(retry_pause(Duration::from_secs(1)) <= Duration::from_millis(188));
    }

    #[test]
    fn only_transient_failures_are_tried_again_soon() {
        let api = |code| WechatError::Api { code, msg: String::new() };
        let backoff = |cause| WechatError::Backoff { wait: Duration::from_secs(5), cause: Box::new(cause) };
        for e in [
            WechatError::Timeout,
            WechatError::Connect("reset".into()),
            WechatError::Http { status: 502 },
            api(-1),
            WechatError::TokenUnavailable("no token in Redis".into()),
        ] {
            assert!(transient(&e) && retry_within_poll(&e), "{e:?}");
        }
        for e in [api(45009), api(40013), api(61501), WechatError::Http { status: 404 }, WechatError::InvalidResponse("x".into())] {
            assert!(!transient(&e) && !retry_within_poll(&e), "{e:?}");
        }
        // A token fetch backing off after a timeout: soon again, but not within the poll.
        assert!(transient(&backoff(WechatError::Timeout)) && !retry_within_poll(&backoff(WechatError::Timeout)));
        // A spent daily quota: the interval, as ever.
        assert!(!transient(&backoff(api(45009))));
    }
}
