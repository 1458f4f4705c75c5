//! What the collectors' own tests share: fixtures, a clock the test moves, the
//! simulator with one app, and a way to find a sample.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;

use super::{Account, Collector, Output, PollContext};
use crate::simulator::{Options, SimApp, Simulator};
use crate::store::Sample;
use crate::wechat::{AppClient, WechatError};

/// A documented example under `tests/data/`, read as WeChat's answer.
pub fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    crate::wechat::client::decode(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A JSON text read as WeChat's answer.
pub fn answer<T: DeserializeOwned>(text: &str) -> Result<T, WechatError> {
    crate::wechat::client::decode(text.as_bytes())
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The value of the one sample named `name` whose labels include `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.desc.name == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v)))
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} twice: {found:?}");
    found.first().copied()
}

/// The simulator on a clock the test moves, with one mini program.
pub struct Rig {
    pub sim: Simulator,
    pub app: SimApp,
    pub client: AppClient,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Rig {
    /// Starts at `rfc3339`; WeChat publishes yesterday at `publish_hour` (UTC+8).
    pub async fn start(rfc3339: &str, publish_hour: u32, odd: bool) -> Rig {
        let mut app = SimApp::new("shop", "wxtest00000shop1", Account::Miniprogram);
        app.odd = odd;
        Rig::start_with(rfc3339, publish_hour, app).await
    }

    /// The same with any one app.
    pub async fn start_with(rfc3339: &str, publish_hour: u32, app: SimApp) -> Rig {
        let now = Arc::new(Mutex::new(DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()));
        let clock = now.clone();
        let mut opts = Options::new(vec![app.clone()]);
        opts.publish_hour = publish_hour;
        opts.clock = Arc::new(move || *clock.lock().unwrap());
        let sim = Simulator::start(opts).await.unwrap();
        let client = sim.client_for(&app).unwrap();
        Rig { sim, app, client, now }
    }

    pub fn set(&self, rfc3339: &str) {
        *self.now.lock().unwrap() = DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc();
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    pub async fn poll(&self, c: &mut dyn Collector) -> Result<Output, WechatError> {
        c.poll(&PollContext::new(&self.client, self.now())).await
    }

    /// The bodies of the calls to `path` so far.
    pub fn bodies(&self, path: &str) -> Vec<serde_json::Value> {
        self.sim.calls(path).into_iter().map(|c| c.body).collect()
    }
}
