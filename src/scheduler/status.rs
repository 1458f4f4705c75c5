//! What the landing page, `/readyz` and each app's `up` series know of every collector.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::CollectorStatus;

/// Every collector's status, app by app. An app's collectors share one short list,
/// sorted by name, rather than each taking a map entry keyed by (app, collector): at
/// 10,000 apps with four collectors that is some 2 MB less.
#[derive(Default)]
pub(super) struct StatusTable {
    apps: BTreeMap<Arc<str>, Vec<(&'static str, CollectorStatus)>>,
}

impl StatusTable {
    pub(super) fn insert(&mut self, app: &Arc<str>, collector: &'static str, status: CollectorStatus) {
        let list = self.apps.entry(app.clone()).or_default();
        match list.binary_search_by(|(c, _)| c.cmp(&collector)) {
            Ok(i) => list[i].1 = status,
            Err(i) => list.insert(i, (collector, status)),
        }
    }

    pub(super) fn get_mut(&mut self, app: &str, collector: &str) -> Option<&mut CollectorStatus> {
        let list = self.apps.get_mut(app)?;
        list.iter_mut().find(|(c, _)| *c == collector).map(|(_, s)| s)
    }

    pub(super) fn remove(&mut self, app: &str, collector: &str) {
        if let Some(list) = self.apps.get_mut(app) {
            list.retain(|(c, _)| *c != collector);
            if list.is_empty() {
                self.apps.remove(app);
            }
        }
    }

    pub(super) fn remove_app(&mut self, app: &str) {
        self.apps.remove(app);
    }

    /// One app's collectors, by name.
    pub(super) fn of(&self, app: &str) -> &[(&'static str, CollectorStatus)] {
        self.apps.get(app).map_or(&[], Vec::as_slice)
    }

    /// Every collector, ordered by app and name.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &'static str, &CollectorStatus)> {
        self.apps.iter().flat_map(|(a, list)| list.iter().map(move |(c, s)| (a, *c, s)))
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
}
