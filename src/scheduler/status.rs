//! What the landing page, `/readyz` and each app's `up` series know of every collector,
//! and each app's config as it runs now.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::CollectorStatus;
use crate::config::AppConfig;

/// Every collector's status, app by app. An app's collectors share one short list,
/// sorted by name, rather than each taking a map entry keyed by (app, collector): at
/// 10,000 apps with four collectors that is some 2 MB less.
#[derive(Default)]
pub(super) struct StatusTable {
    apps: BTreeMap<Arc<str>, AppStatus>,
}

#[derive(Default)]
struct AppStatus {
    /// The app's config in force: its pollers read it here at every poll, so a change
    /// that keeps them (a platform app's new nickname) shows at once and stays.
    /// `None` for a platform's own entry.
    config: Option<Arc<AppConfig>>,
    collectors: Vec<(&'static str, CollectorStatus)>,
}

impl StatusTable {
    /// Sets the config an app runs with now.
    pub(super) fn set_config(&mut self, config: &Arc<AppConfig>) {
        self.apps.entry(config.name.clone()).or_default().config = Some(config.clone());
    }

    pub(super) fn config(&self, app: &str) -> Option<&Arc<AppConfig>> {
        self.apps.get(app)?.config.as_ref()
    }

    pub(super) fn insert(&mut self, app: &Arc<str>, collector: &'static str, status: CollectorStatus) {
        let list = &mut self.apps.entry(app.clone()).or_default().collectors;
        match list.binary_search_by(|(c, _)| c.cmp(&collector)) {
            Ok(i) => list[i].1 = status,
            Err(i) => list.insert(i, (collector, status)),
        }
    }

    pub(super) fn get_mut(&mut self, app: &str, collector: &str) -> Option<&mut CollectorStatus> {
        let list = &mut self.apps.get_mut(app)?.collectors;
        list.iter_mut().find(|(c, _)| *c == collector).map(|(_, s)| s)
    }

    pub(super) fn remove(&mut self, app: &str, collector: &str) {
        if let Some(a) = self.apps.get_mut(app) {
            a.collectors.retain(|(c, _)| *c != collector);
            if a.collectors.is_empty() && a.config.is_none() {
                self.apps.remove(app);
            }
        }
    }

    pub(super) fn remove_app(&mut self, app: &str) {
        self.apps.remove(app);
    }

    /// One app's collectors, by name.
    pub(super) fn of(&self, app: &str) -> &[(&'static str, CollectorStatus)] {
        self.apps.get(app).map_or(&[], |a| a.collectors.as_slice())
    }

    /// Every collector, ordered by app and name.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &'static str, &CollectorStatus)> {
        self.apps.iter().flat_map(|(a, s)| s.collectors.iter().map(move |(c, s)| (a, *c, s)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn status(polls: u64) -> CollectorStatus {
        CollectorStatus { interval: Duration::from_secs(60), polls, up: true, last_success: None, last_error: None, data_date: None }
    }

    #[test]
    fn ordered_by_app_then_collector_and_emptied_apps_go() {
        let mut t = StatusTable::default();
        let (shop, news): (Arc<str>, Arc<str>) = (Arc::from("shop"), Arc::from("news"));
        t.insert(&shop, "visit_trend", status(1));
        t.insert(&shop, "performance", status(2));
        t.insert(&news, "user_summary", status(3));
        t.insert(&shop, "performance", status(4));
        let all: Vec<(String, &str, u64)> = t.iter().map(|(a, c, s)| (a.to_string(), c, s.polls)).collect();
        assert_eq!(all, [("news".into(), "user_summary", 3), ("shop".into(), "performance", 4), ("shop".into(), "visit_trend", 1)]);
        if let Some(s) = t.get_mut("shop", "visit_trend") {
            s.polls = 9;
        }
        assert_eq!(t.of("shop").iter().map(|(_, s)| s.polls).collect::<Vec<_>>(), [4, 9]);
        assert!(t.get_mut("shop", "realtime_log").is_none() && t.get_mut("game", "visit_trend").is_none());
        t.remove("news", "user_summary");
        t.remove_app("shop");
        assert_eq!(t.iter().count(), 0);
        assert!(t.apps.is_empty(), "no empty lists are left behind");
    }

    #[test]
    fn an_apps_config_stays_while_it_runs_and_the_newest_is_the_one_kept() {
        let app = |account| crate::config::AppConfig {
            name: Arc::from("shop"),
            appid: "wx1".into(),
            account,
            credential: crate::wechat::Credential::File("/dev/null".into()),
            collectors: Arc::from([]),
            platform: None,
        };
        let mut t = StatusTable::default();
        t.set_config(&Arc::new(app(crate::collectors::Account::Miniprogram)));
        t.insert(&Arc::from("shop"), "visit_trend", status(1));
        t.set_config(&Arc::new(app(crate::collectors::Account::OfficialAccount)));
        t.remove("shop", "visit_trend");
        let kept = t.config("shop").map(|c| c.account);
        assert_eq!(kept, Some(crate::collectors::Account::OfficialAccount), "the newest config, kept without collectors");
        t.remove_app("shop");
        assert!(t.config("shop").is_none());
    }
}
