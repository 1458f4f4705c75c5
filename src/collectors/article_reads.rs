//! `article_reads`: how an Official Account's articles were read, shared and
//! saved, from getuserread, per `user_source` (99999999 being all sources
//! together). Runs by default: one call a poll.
//!
//! `YYYY-MM-DD` dates, an end no later than yesterday (UTC+8), a span of at most
//! 3 days; a source nobody read from that day has no row. The day served follows
//! [`super::newest`].

pub mod sim;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::datacube::{Daily, Datacube, by_key, day_rows};
use super::kind::{HOUR, MINUTE, OFFICIAL_ACCOUNT};
use super::{Kind, NoSettings, PollContext, Route};
use crate::store::{Desc, Sample};
use crate::wechat::json::Loose;
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "article_reads",
    accounts: OFFICIAL_ACCOUNT,
    default: true,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[
        &READ_USERS,
        &READS,
        &ORIGINAL_READ_USERS,
        &ORIGINAL_READS,
        &SHARE_USERS,
        &SHARES,
        &FAVORITE_USERS,
        &FAVORITES,
    ],
    build: |_| Box::<ArticleReads>::default(),
    describe: |_| format!("{} for yesterday (UTC+8), every source", API.name),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      article_reads: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getuserread", "/datacube/getuserread");

/// The documented maximum span, in days.
pub const MAX_DAYS: i64 = 3;

/// getuserread's `user_source` for all sources together; also the source of a row
/// that names none, as the documented example's does.
pub const ALL_SOURCES: i64 = 99_999_999;

pub const READ_USERS: Desc =
    Desc::gauge("wechat_daily_article_read_users", "Users who read articles (int_page_read_user) on the data date, by source.");
pub const READS: Desc =
    Desc::gauge("wechat_daily_article_reads", "Article reads (int_page_read_count) on the data date, by source.");
pub const ORIGINAL_READ_USERS: Desc = Desc::gauge(
    "wechat_daily_article_original_read_users",
    "Users who read the original page (ori_page_read_user) on the data date, by source.",
);
pub const ORIGINAL_READS: Desc = Desc::gauge(
    "wechat_daily_article_original_reads",
    "Reads of the original page (ori_page_read_count) on the data date, by source.",
);
pub const SHARE_USERS: Desc =
    Desc::gauge("wechat_daily_article_share_users", "Users who shared articles (share_user) on the data date, by source.");
pub const SHARES: Desc =
    Desc::gauge("wechat_daily_article_shares", "Article shares (share_count) on the data date, by source.");
pub const FAVORITE_USERS: Desc = Desc::gauge(
    "wechat_daily_article_favorite_users",
    "Users who saved articles to favorites (add_to_fav_user) on the data date, by source.",
);
pub const FAVORITES: Desc = Desc::gauge(
    "wechat_daily_article_favorites",
    "Articles saved to favorites (add_to_fav_count) on the data date, by source.",
);

/// A getuserread row: one source's figures of a day.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Row {
    pub ref_date: Loose<String>,
    pub user_source: Loose<i64>,
    pub int_page_read_user: Loose<f64>,
    pub int_page_read_count: Loose<f64>,
    pub ori_page_read_user: Loose<f64>,
    pub ori_page_read_count: Loose<f64>,
    pub share_user: Loose<f64>,
    pub share_count: Loose<f64>,
    pub add_to_fav_user: Loose<f64>,
    pub add_to_fav_count: Loose<f64>,
}

impl Row {
    /// The row's samples, one per field sent, labelled with `source`.
    pub fn samples(&self, source: i64) -> Vec<Sample> {
        [
            (&READ_USERS, &self.int_page_read_user),
            (&READS, &self.int_page_read_count),
            (&ORIGINAL_READ_USERS, &self.ori_page_read_user),
            (&ORIGINAL_READS, &self.ori_page_read_count),
            (&SHARE_USERS, &self.share_user),
            (&SHARES, &self.share_count),
            (&FAVORITE_USERS, &self.add_to_fav_user),
            (&FAVORITES, &self.add_to_fav_count),
        ]
        .into_iter()
        .filter_map(|(desc, v)| v.get().map(|v| Sample::new(desc, v).label("source", source.to_string())))
        .collect()
    }
}

/// The day's rows by source; None when WeChat sent none.
pub fn day_of(rows: Vec<Row>, day: NaiveDate) -> Option<BTreeMap<i64, Row>> {
    let by_source = by_key(rows, day, |r| r.ref_date.as_deref(), |r| r.user_source.get(), Some(ALL_SOURCES));
    (!by_source.is_empty()).then_some(by_source)
}

/// The collector: the newest day's reads by source.
pub type ArticleReads = Daily<Reads>;

#[derive(Default)]
pub struct Reads;

impl Datacube for Reads {
    type Period = NaiveDate;
    type Data = BTreeMap<i64, Row>;

    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Self::Data>, WechatError> {
        Ok(day_of(day_rows(cx, &API, day).await?, day))
    }

    fn samples(&self, rows: &Self::Data) -> Vec<Sample> {
        rows.iter().flat_map(|(source, row)| row.samples(*source)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};
    use crate::collectors::{Account, List};
    use crate::simulator::SimApp;

    /// WeChat's getuserread example (the article analysis page), as wechatpy keeps
    /// it in tests/fixtures/datacube_getuserread.json: one row without a source,
    /// the day's total.
    #[test]
    fn documented_example() {
        let day = date(2014, 12, 7);
        let resp: List<Row> = fixture("article_reads.json");
        let rows = day_of(resp.list, day).unwrap();
        let s = Reads.samples(&rows);
        let all = [("source", "99999999")];
        assert_eq!(value(&s, "wechat_daily_article_read_users", &all), Some(45524.0));
        assert_eq!(value(&s, "wechat_daily_article_reads", &all), Some(48796.0));
        assert_eq!(value(&s, "wechat_daily_article_original_read_users", &all), Some(11.0));
        assert_eq!(value(&s, "wechat_daily_article_original_reads", &all), Some(35.0));
        assert_eq!(value(&s, "wechat_daily_article_share_users", &all), Some(11.0));
        assert_eq!(value(&s, "wechat_daily_article_shares", &all), Some(276.0));
        assert_eq!(value(&s, "wechat_daily_article_favorite_users", &all), Some(5.0));
        assert_eq!(value(&s, "wechat_daily_article_favorites", &all), Some(15.0));
        assert_eq!(s.len(), 8);
        let resp: List<Row> = fixture("article_reads.json");
        assert_eq!(day_of(resp.list, date(2014, 12, 8)), None);
    }

    #[test]
    fn strings_gaps_and_empty_lists() {
        let r: List<Row> = answer(
            r#"{"list":[{"ref_date":"2024-01-02","user_source":"2","int_page_read_user":"120","share_count":0,"add_to_fav_user":null}]}"#,
        )
        .unwrap();
        let s = Reads.samples(&day_of(r.list, date(2024, 1, 2)).unwrap());
        assert_eq!(value(&s, "wechat_daily_article_read_users", &[("source", "2")]), Some(120.0));
        assert_eq!(value(&s, "wechat_daily_article_shares", &[("source", "2")]), Some(0.0), "a real 0 stays 0");
        assert_eq!(value(&s, "wechat_daily_article_favorite_users", &[("source", "2")]), None);
        assert_eq!(s.len(), 2);
        let empty: List<Row> = answer(r#"{"list":[]}"#).unwrap();
        assert_eq!(day_of(empty.list, date(2024, 1, 2)), None);
    }

    #[tokio::test]
    async fn serves_the_simulators_newest_day() {
        let mut app = SimApp::new("news", "wxtest00000news1", Account::OfficialAccount);
        app.odd = true;
        let rig = Rig::start_with("2024-03-02T02:00:00+08:00", 8, app).await;
        let mut c = ArticleReads::default();
        let out = rig.poll(&mut c).await.unwrap();
        assert_eq!(out.data_date, Some(date(2024, 2, 29)));
        check(&out.samples, &rig.app, date(2024, 2, 29));
        rig.set("2024-03-02T09:00:00+08:00");
        let out = rig.poll(&mut c).await.unwrap();
        assert_eq!(out.data_date, Some(date(2024, 3, 1)));
        check(&out.samples, &rig.app, date(2024, 3, 1));
        for body in rig.bodies(API.path) {
            assert_eq!(body["begin_date"], body["end_date"]);
            assert!(body["end_date"] == "2024-03-01" || body["end_date"] == "2024-02-29", "{body}");
        }
    }

    fn check(samples: &[Sample], app: &SimApp, day: NaiveDate) {
        let rows = sim::rows(&app.appid, day, app.odd);
        assert!(rows.iter().any(|r| r.user_source.get() == Some(ALL_SOURCES)));
        let mut n = 0;
        for src in sim::SOURCES {
            let want = rows.iter().find(|r| r.user_source.get() == Some(*src)).map(|r| r.samples(*src)).unwrap_or_default();
            let s = src.to_string();
            for w in &want {
                assert_eq!(value(samples, w.desc.name.as_ref(), &[("source", &s)]), Some(w.value));
            }
            n += want.len();
        }
        assert_eq!(samples.len(), n);
        if app.odd {
            assert!(samples.iter().all(|s| s.desc.name != ORIGINAL_READS.name), "the odd app leaves ori_page_read_count out");
        }
    }

    #[tokio::test]
    async fn a_span_over_three_days_is_61501() {
        let app = SimApp::new("news", "wxtest00000news1", Account::OfficialAccount);
        let rig = Rig::start_with("2024-03-02T09:00:00+08:00", 8, app).await;
        let y = date(2024, 3, 1);
        for (back, ok) in [(2, true), (3, false)] {
            let span = super::super::DateSpan::dashed(y - chrono::Duration::days(back), y);
            let r: Result<List<Row>, _> = rig.client.post(&API, &span).await;
            match r {
                Ok(l) => {
                    assert!(ok, "{back}");
                    let days: std::collections::BTreeSet<_> = l.list.iter().map(|r| r.ref_date.0.clone()).collect();
                    assert_eq!(days.len(), 3);
                }
                Err(e) => assert_eq!((ok, e.errcode()), (false, Some(61501))),
            }
        }
    }
}
