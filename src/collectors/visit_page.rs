//! `visit_page`: getVisitPage, a mini program's pages of one day.
//!
//! WeChat gives up to 200 pages, in no promised order. The collector keeps the
//! `top` N by `page_visit_pv` (7 series a page); a page that drops out of the top
//! takes its series with it at the next poll.

pub mod sim;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

use super::datacube::{answers_day, Daily, Datacube};
use super::kind::{HOUR, MINI_PROGRAM, MINUTE};
use super::{DateSpan, Kind, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::{self, Loose};
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<Settings> = Kind {
    name: "visit_page",
    accounts: MINI_PROGRAM,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&VISIT_PV, &VISIT_UV, &STAY_PER_VISIT, &ENTRY_PV, &EXIT_PV, &SHARE_PV, &SHARE_UV],
    build: |s| Box::new(VisitPage::new(Pages { top: s.top })),
    describe: |s| format!("{} for yesterday (UTC+8), the top {} pages by visits", API.name, s.top),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      visit_page: {interval: 1m, top: 10}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getVisitPage", "/datacube/getweanalysisappidvisitpage");

/// The most pages WeChat gives.
pub const MAX_TOP: u32 = 200;

pub const VISIT_PV: Desc = Desc::gauge("wechat_page_visit_pv", "Visits of the page (page_visit_pv) on the data date.");
pub const VISIT_UV: Desc = Desc::gauge("wechat_page_visit_uv", "Users who visited the page (page_visit_uv) on the data date.");
pub const STAY_PER_VISIT: Desc = Desc::gauge(
    "wechat_page_stay_time_per_visit_seconds",
    "Average time a visit stayed on the page (page_staytime_pv) on the data date.",
);
pub const ENTRY_PV: Desc =
    Desc::gauge("wechat_page_entry_pv", "Visits that entered the mini program on the page (entrypage_pv) on the data date.");
pub const EXIT_PV: Desc =
    Desc::gauge("wechat_page_exit_pv", "Visits that left the mini program from the page (exitpage_pv) on the data date.");
pub const SHARE_PV: Desc = Desc::gauge("wechat_page_share_pv", "Shares of the page (page_share_pv) on the data date.");
pub const SHARE_UV: Desc =
    Desc::gauge("wechat_page_share_uv", "Users who shared the page (page_share_uv) on the data date.");

/// Settings of the `visit_page` collector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The pages kept: those with the most visits, at most WeChat's 200.
    #[serde(deserialize_with = "top")]
    pub top: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { top: 20 }
    }
}

impl super::Settings for Settings {}

fn top<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = i64::deserialize(d)?;
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
        _ => Err(serde::de::Error::custom(format!(
            "top {n} is not within 1..={MAX_TOP}: WeChat gives at most {MAX_TOP} pages, and each kept page is 7 series"
        ))),
    }
}

/// One day (the API allows no more), `yyyymmdd`.
pub type Request = DateSpan;

/// A day's pages, in the HTTPS shape or the cloud call's camelCase one.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Response {
    #[serde(alias = "refDate")]
    pub ref_date: Loose<String>,
    #[serde(deserialize_with = "json::list")]
    pub list: Vec<Page>,
}

/// A page's row. A field WeChat leaves out is a missing sample.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Page {
    #[serde(alias = "pagePath")]
    pub page_path: Loose<String>,
    #[serde(alias = "pageVisitPv")]
    pub page_visit_pv: Loose<f64>,
    #[serde(alias = "pageVisitUv")]
    pub page_visit_uv: Loose<f64>,
    #[serde(alias = "pageStaytimePv")]
    pub page_staytime_pv: Loose<f64>,
    #[serde(alias = "entrypagePv")]
    pub entrypage_pv: Loose<f64>,
    #[serde(alias = "exitpagePv")]
    pub exitpage_pv: Loose<f64>,
    #[serde(alias = "pageSharePv")]
    pub page_share_pv: Loose<f64>,
    #[serde(alias = "pageShareUv")]
    pub page_share_uv: Loose<f64>,
}

impl Page {
    fn samples(&self, path: &str) -> Vec<Sample> {
        [
            (&VISIT_PV, &self.page_visit_pv),
            (&VISIT_UV, &self.page_visit_uv),
            (&STAY_PER_VISIT, &self.page_staytime_pv),
            (&ENTRY_PV, &self.entrypage_pv),
            (&EXIT_PV, &self.exitpage_pv),
            (&SHARE_PV, &self.page_share_pv),
            (&SHARE_UV, &self.page_share_uv),
        ]
        .into_iter()
        .filter_map(|(desc, v)| v.get().map(|v| Sample::new(desc, v).label("page", path)))
        .collect()
    }
}

/// The `n` pages with the most visits, most first: pages without a path are
/// passed over (they cannot be labelled), a page listed twice is kept once, and a
/// page without `page_visit_pv` comes after every page with one.
pub fn top_pages(pages: Vec<Page>, n: usize) -> Vec<Page> {
    let mut pages: Vec<Page> = pages.into_iter().filter(|p| p.page_path.as_deref().is_some_and(|s| !s.is_empty())).collect();
    let pv = |p: &Page| p.page_visit_pv.get().unwrap_or(f64::NEG_INFINITY);
    pages.sort_by(|a, b| pv(b).total_cmp(&pv(a)).then_with(|| a.page_path.cmp(&b.page_path)));
    let mut out: Vec<Page> = Vec::with_capacity(n.min(pages.len()));
    for p in pages {
        if out.len() == n {
            break;
        }
        if !out.iter().any(|o| o.page_path == p.page_path) {
            out.push(p);
        }
    }
    out
}

/// The collector: the newest day's top pages.
pub type VisitPage = Daily<Pages>;

pub struct Pages {
    pub top: u32,
}

impl Datacube for Pages {
    type Period = NaiveDate;
    type Data = Vec<Page>;

    /// None while WeChat has no pages for `day`.
    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Vec<Page>>, WechatError> {
        let resp: Response = cx.client.post(&API, &Request::for_day(day)).await?;
        if !answers_day(resp.ref_date.as_deref(), day) {
            return Ok(None);
        }
        let pages = top_pages(resp.list, self.top as usize);
        Ok((!pages.is_empty()).then_some(pages))
    }

    fn samples(&self, pages: &Vec<Page>) -> Vec<Sample> {
        pages.iter().flat_map(|p| p.samples(p.page_path.as_deref().unwrap_or_default())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};

    fn paths(pages: &[Page]) -> Vec<&str> {
        pages.iter().map(|p| p.page_path.as_deref().unwrap()).collect()
    }

    /// The example of WeChat's getVisitPage page (developers.weixin.qq.com,
    /// data-analysis/others/getVisitPage, and the older analysis-visit page).
    #[test]
    fn documented_example() {
        let resp: Response = fixture("visit_page.json");
        assert_eq!(resp.ref_date.as_deref(), Some("20170313"));
        let top = top_pages(resp.list, 3);
        assert_eq!(paths(&top), ["pages/main/main.html", "pages/linedetail/linedetail.html", "pages/search/search.html"]);
        let s = Pages { top: 3 }.samples(&top);
        assert_eq!(s.len(), 3 * 7);
        let main = [("page", "pages/main/main.html")];
        assert_eq!(value(&s, "wechat_page_visit_pv", &main), Some(213429.0));
        assert_eq!(value(&s, "wechat_page_visit_uv", &main), Some(55423.0));
        assert_eq!(value(&s, "wechat_page_stay_time_per_visit_seconds", &main), Some(8.139198));
        assert_eq!(value(&s, "wechat_page_entry_pv", &main), Some(117922.0));
        assert_eq!(value(&s, "wechat_page_exit_pv", &main), Some(61304.0));
        assert_eq!(value(&s, "wechat_page_share_pv", &main), Some(180.0));
        assert_eq!(value(&s, "wechat_page_share_uv", &main), Some(166.0));
        assert_eq!(value(&s, "wechat_page_share_pv", &[("page", "pages/search/search.html")]), Some(0.0));
        assert_eq!(value(&s, "wechat_page_visit_pv", &[("page", "pages/switch-city/switch-city.html")]), None);
    }

    #[test]
    fn the_top_is_by_visits_whatever_the_order() {
        let r: Response = answer(
            r#"{"list":[
                {"page_path":"b","page_visit_pv":"5"},
                {"page_path":"a","page_visit_pv":50},
                {"page_path":"","page_visit_pv":500},
                {"page_visit_pv":400},
                {"page_path":"c"},
                {"page_path":"a","page_visit_pv":1},
                {"page_path":"d","page_visit_pv":5}
            ]}"#,
        )
        .unwrap();
        assert_eq!(paths(&top_pages(r.list.clone(), 10)), ["a", "b", "d", "c"], "ties by path; no pv comes last");
        assert_eq!(paths(&top_pages(r.list.clone(), 2)), ["a", "b"]);
        let s = Pages { top: 10 }.samples(&top_pages(r.list, 10));
        assert_eq!(value(&s, "wechat_page_visit_pv", &[("page", "a")]), Some(50.0), "the larger of two rows for one page");
        assert_eq!(s.iter().filter(|x| x.labels[0].1 == "c").count(), 0, "a page with no values has no series");
        assert!(answer::<Response>(r#"{"list":[{"page_path":"a","page_visit_pv":"lots"}]}"#).is_err());
    }

    #[test]
    fn top_is_between_1_and_200() {
        let read = |text: &str| crate::config::from_yaml::<Settings>(text);
        assert_eq!(read("{}").unwrap().top, 20);
        assert_eq!(read("top: 200").unwrap().top, 200);
        for bad in ["top: 0", "top: 201", "top: -3"] {
            let e = read(bad).unwrap_err();
            assert!(e.message.contains("1..=200"), "{bad}: {e:?}");
            assert_eq!(e.key, "top");
        }
        assert!(read("tops: 3").unwrap_err().message.contains("unknown field"));
    }

    /// Against the simulator: exactly the simulator's top N of the day, though it
    /// sends its pages shuffled, and at most 200 of the odd app's 260.
    #[tokio::test]
    async fn keeps_the_simulators_top_pages() {
        for (odd, top) in [(false, 5u32), (true, 200)] {
            let rig = Rig::start("2024-03-02T10:00:00+08:00", 8, odd).await;
            let mut c = VisitPage::new(Pages { top });
            let out = rig.poll(&mut c).await.unwrap();
            let day = date(2024, 3, 1);
            assert_eq!(out.data_date, Some(day));
            let all = sim::pages(&rig.app.appid, day, odd);
            assert!(all.len() > top as usize);
            let kept: std::collections::BTreeSet<&str> =
                out.samples.iter().map(|s| s.labels[0].1.as_str()).collect();
            assert_eq!(kept.len(), top as usize);
            for (rank, p) in all.iter().enumerate() {
                let path = p.page_path.as_deref().unwrap();
                let got = value(&out.samples, "wechat_page_visit_pv", &[("page", path)]);
                if rank < top as usize {
                    assert_eq!(got, p.page_visit_pv.get(), "{path}");
                    let share_uv = value(&out.samples, "wechat_page_share_uv", &[("page", path)]);
                    assert_eq!(share_uv, if odd { None } else { p.page_share_uv.get() });
                } else {
                    assert_eq!(got, None, "{path} is not in the top {top}");
                }
            }
        }
    }
}
