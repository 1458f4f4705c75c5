//! `upstream_msg`: the messages an Official Account's users sent it, from
//! getupstreammsg, per `msg_type`. On request: one call a poll.
//!
//! `YYYY-MM-DD` dates, an end no later than yesterday (UTC+8), a span of at most
//! 7 days; a type nobody sent that day has no row. The day served follows
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
    name: "upstream_msg",
    accounts: OFFICIAL_ACCOUNT,
    default: false,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[&MESSAGES, &SENDERS],
    build: |_| Box::<UpstreamMsg>::default(),
    describe: |_| format!("{} for yesterday (UTC+8), every message type", API.name),
    routes: &[Route { api: &API, answer: sim::answer }],
    demo: |_| Some("      upstream_msg: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const API: Api = Api::post("getupstreammsg", "/datacube/getupstreammsg");

/// The documented maximum span, in days.
pub const MAX_DAYS: i64 = 7;

pub const MESSAGES: Desc = Desc::gauge(
    "wechat_daily_messages_received",
    "Messages users sent the account (msg_count) on the data date, by msg_type.",
);
pub const SENDERS: Desc = Desc::gauge(
    "wechat_daily_message_senders",
    "Users who sent the account messages (msg_user) on the data date, by msg_type.",
);

/// A getupstreammsg row: one message type's figures of a day.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Row {
    pub ref_date: Loose<String>,
    pub msg_type: Loose<i64>,
    pub msg_user: Loose<f64>,
    pub msg_count: Loose<f64>,
}

/// The day's rows by type (a row without a type is passed over); None when
/// WeChat sent none.
pub fn day_of(rows: Vec<Row>, day: NaiveDate) -> Option<BTreeMap<i64, Row>> {
    let by_type = by_key(rows, day, |r| r.ref_date.as_deref(), |r| r.msg_type.get(), None);
    (!by_type.is_empty()).then_some(by_type)
}

pub fn samples(rows: &BTreeMap<i64, Row>) -> Vec<Sample> {
    let mut out = Vec::new();
    for (t, row) in rows {
        for (desc, v) in [(&MESSAGES, row.msg_count.get()), (&SENDERS, row.msg_user.get())] {
            out.extend(v.map(|v| Sample::new(desc, v).label("msg_type", t.to_string())));
        }
    }
    out
}

/// The collector: the newest day's messages by type.
pub type UpstreamMsg = Daily<Messages>;

#[derive(Default)]
pub struct Messages;

impl Datacube for Messages {
    type Period = NaiveDate;
    type Data = BTreeMap<i64, Row>;

    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Self::Data>, WechatError> {
        Ok(day_of(day_rows(cx, &API, day).await?, day))
    }

    fn samples(&self, rows: &Self::Data) -> Vec<Sample> {
        samples(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testing::{Rig, answer, date, fixture, value};
    use crate::collectors::{Account, List};
    use crate::simulator::SimApp;

    /// WeChat's getupstreammsg example (the message analysis page), as wechatpy
    /// keeps it in tests/fixtures/datacube_getupstreammsg.json.
    #[test]
    fn documented_example() {
        let resp: List<Row> = fixture("upstream_msg.json");
        let s = samples(&day_of(resp.list, date(2014, 12, 7)).unwrap());
        assert_eq!(value(&s, "wechat_daily_messages_received", &[("msg_type", "1")]), Some(817.0));
        assert_eq!(value(&s, "wechat_daily_message_senders", &[("msg_type", "1")]), Some(282.0));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn strings_gaps_and_rows_without_a_type() {
        let r: List<Row> = answer(
            r#"{"list":[{"ref_date":"2024-01-02","msg_type":"3","msg_count":"9"},{"ref_date":"2024-01-02","msg_user":4}]}"#,
        )
        .unwrap();
        let s = samples(&day_of(r.list, date(2024, 1, 2)).unwrap());
        assert_eq!(value(&s, "wechat_daily_messages_received", &[("msg_type", "3")]), Some(9.0));
        assert_eq!(value(&s, "wechat_daily_message_senders", &[("msg_type", "3")]), None);
        assert_eq!(s.len(), 1);
        let none: List<Row> = answer(r#"{"list":null}"#).unwrap();
        assert_eq!(day_of(none.list, date(2024, 1, 2)), None);
    }

    #[tokio::test]
    async fn serves_the_simulators_newest_day() {
        let mut app = SimApp::new("news", "wxtest00000news1", Account::OfficialAccount);
        app.odd = true;
        let rig = Rig::start_with("2024-03-02T02:00:00+08:00", 8, app).await;
        let mut c = UpstreamMsg::default();
        for (at, day) in [("2024-03-02T02:00:00+08:00", date(2024, 2, 29)), ("2024-03-02T09:00:00+08:00", date(2024, 3, 1))] {
            rig.set(at);
            let out = rig.poll(&mut c).await.unwrap();
            assert_eq!(out.data_date, Some(day));
            let want = sim::rows(&rig.app.appid, day);
            assert_eq!(out.samples.len(), want.len() * 2);
            for row in want {
                let t = row.msg_type.get().unwrap().to_string();
                assert_eq!(value(&out.samples, "wechat_daily_messages_received", &[("msg_type", &t)]), row.msg_count.get());
                assert_eq!(value(&out.samples, "wechat_daily_message_senders", &[("msg_type", &t)]), row.msg_user.get());
            }
        }
        for body in rig.bodies(API.path) {
            assert_eq!(body["begin_date"], body["end_date"]);
        }
        let y = date(2024, 3, 1);
        let span = super::super::DateSpan::dashed(y - chrono::Duration::days(MAX_DAYS), y);
        let r: Result<List<Row>, _> = rig.client.post(&API, &span).await;
        assert_eq!(r.unwrap_err().errcode(), Some(61501));
    }
}
