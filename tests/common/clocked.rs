//! The binary on libfaketime's clock and the simulator on one starting at the same
//! moment: what the tests of dates across UTC+8's midnight share.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use wechat_exporter::simulator::{Options, SimApp, Simulator};

use super::{config_each, parse, Exporter, Line};

/// libfaketime, where Debian's `faketime` puts it (scripts/test.sh installs it).
pub fn faketime_lib() -> String {
    let arch = std::env::consts::ARCH;
    [format!("/usr/lib/{arch}-linux-gnu/faketime/libfaketime.so.1"), "/usr/lib/faketime/libfaketime.so.1".to_string()]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("libfaketime is installed (Debian package faketime; scripts/test.sh installs it)")
}

/// The simulator on a clock that starts at `start` now, and the binary on
/// libfaketime's clock from the same time, started after it (so it runs a little
/// behind and never asks for a day the simulator does not yet call yesterday).
pub struct Clocked {
    pub sim: Simulator,
    pub exp: Exporter,
    pub start: DateTime<Utc>,
    t0: Instant,
}

impl Clocked {
    pub async fn start(start: &str, apps: &[(SimApp, String)], wechat_extra: &str) -> Clocked {
        let lib = faketime_lib();
        let start = DateTime::parse_from_rfc3339(start).unwrap().to_utc();
        let t0 = Instant::now();
        let mut opts = Options::new(apps.iter().map(|(a, _)| a.clone()).collect());
        opts.clock = Arc::new(move || start + chrono::Duration::from_std(t0.elapsed()).unwrap());
        let sim = Simulator::start(opts).await.unwrap();
        let faketime = format!("@{}", start.timestamp());
        let env = [
            ("TZ", "America/Los_Angeles"),
            ("LD_PRELOAD", lib.as_str()),
            ("FAKETIME_FMT", "%s"),
            ("FAKETIME", faketime.as_str()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ];
        let config = config_each(&sim.base_url(), apps).replacen("  timeout: 3s\n", &format!("  timeout: 3s\n{wechat_extra}"), 1);
        let exp = Exporter::start(&config, &[], &env);
        exp.wait_ready().await;
        Clocked { sim, exp, start, t0 }
    }

    pub fn sim_now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.t0.elapsed()).unwrap()
    }

    pub async fn scrape(&self) -> (String, Vec<Line>) {
        let (status, text) = self.exp.get("/metrics").await;
        assert_eq!(status, 200);
        let lines = parse(&text);
        (text, lines)
    }
}
