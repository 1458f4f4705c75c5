//! `interface_summary`: an Official Account's interface analysis, from
//! getinterfacesummary (the day) and getinterfacesummaryhour (its hours).
//!
//! Both APIs take `YYYY-MM-DD` dates, an end no later than yesterday (UTC+8) and a
//! span under their maximum (30 days, 1 day). The day served follows
//! [`super::newest`].

pub mod sim;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::datacube::{Daily, Datacube, pick_day};
use super::kind::{HOUR, MINUTE, OFFICIAL_ACCOUNT};
use super::{Kind, NoSettings, PollContext, Route};
use crate::cst;
use crate::store::{Desc, Sample};
use crate::wechat::json::Loose;
use crate::wechat::{Api, WechatError};

pub static KIND: Kind<NoSettings> = Kind {
    name: "interface_summary",
    accounts: OFFICIAL_ACCOUNT,
    default: true,
    interval: HOUR,
    comfortable: MINUTE,
    metrics: &[
        &CALLBACKS,
        &FAILURES,
        &TIME_COST,
        &MAX_TIME_COST,
        &HOURLY_CALLBACKS,
        &HOURLY_FAILURES,
        &HOURLY_TIME_COST,
        &HOURLY_MAX_TIME_COST,
    ],
    build: |_| Box::<InterfaceSummary>::default(),
    describe: |_| format!("{} and {} for yesterday (UTC+8)", SUMMARY.name, HOURLY.name),
    routes: &[Route { api: &SUMMARY, answer: sim::summary }, Route { api: &HOURLY, answer: sim::hourly }],
    demo: |_| Some("      interface_summary: {interval: 1m}\n".into()),
    ..Kind::BASE
};

pub const SUMMARY: Api = Api::post("getinterfacesummary", "/datacube/getinterfacesummary");
pub const HOURLY: Api = Api::post("getinterfacesummaryhour", "/datacube/getinterfacesummaryhour");

/// The documented maximum spans, in days: `end - begin` must be less than these.
pub const SUMMARY_MAX_DAYS: i64 = 30;
pub const HOURLY_MAX_DAYS: i64 = 1;

pub const CALLBACKS: Desc = Desc::gauge(
    "wechat_interface_callbacks",
    "Passive replies to users' messages via the server URL (callback_count) on the data date.",
);
pub const FAILURES: Desc =
    Desc::gauge("wechat_interface_failures", "Passive replies that failed (fail_count) on the data date.");
pub const TIME_COST: Desc = Desc::gauge(
    "wechat_interface_time_cost_seconds",
    "Total time the replies took (total_time_cost) on the data date.",
);
pub const MAX_TIME_COST: Desc = Desc::gauge(
    "wechat_interface_max_time_cost_seconds",
    "Longest time a reply took (max_time_cost) on the data date.",
);
pub const HOURLY_CALLBACKS: Desc = Desc::gauge(
    "wechat_interface_hourly_callbacks",
    "Passive replies (callback_count) in each hour (UTC+8) of the data date.",
);
pub const HOURLY_FAILURES: Desc = Desc::gauge(
    "wechat_interface_hourly_failures",
    "Passive replies that failed (fail_count) in each hour (UTC+8) of the data date.",
);
pub const HOURLY_TIME_COST: Desc = Desc::gauge(
    "wechat_interface_hourly_time_cost_seconds",
    "Total time the replies took (total_time_cost) in each hour (UTC+8) of the data date.",
);
pub const HOURLY_MAX_TIME_COST: Desc = Desc::gauge(
    "wechat_interface_hourly_max_time_cost_seconds",
    "Longest time a reply took (max_time_cost) in each hour (UTC+8) of the data date.",
);

/// Splits the days `begin..=end` into consecutive spans an API with a maximum span
/// of `max_days` accepts (WeChat wants `end - begin < max_days`).
pub fn spans(begin: NaiveDate, end: NaiveDate, max_days: i64) -> Vec<(NaiveDate, NaiveDate)> {
    let step = max_days.max(1);
    let mut out = Vec::new();
    let mut from = begin;
    while from <= end {
        let to = (from + Duration::days(step - 1)).min(end);
        out.push((from, to));
        from = to + Duration::days(1);
    }
    out
}

/// A span in the Official Account form, `YYYY-MM-DD`: `Request::dashed`.
pub type Request = super::DateSpan;

pub type Response = super::List<Row>;

/// A row of either API (the hourly one adds `ref_hour`). Every value is optional:
/// a field WeChat leaves out is a missing sample. Costs are in milliseconds.
#[derive(Deserialize, Serialize, Debug, Default, Clone, PartialEq)]
#[serde(default)]
pub struct Row {
    pub ref_date: Loose<String>,
    pub ref_hour: Loose<i64>,
    pub callback_count: Loose<f64>,
    pub fail_count: Loose<f64>,
    pub total_time_cost: Loose<f64>,
    pub max_time_cost: Loose<f64>,
    /// `max_time_cost` as older WeChat documents and SDK fixtures spell it.
    #[serde(skip_serializing)]
    pub max_time_count: Loose<f64>,
}

/// The hour of the day a `ref_hour` names: WeChat gives 0..23 on the interface
/// page and HHMM-style hundreds (0, 100, … 2300) elsewhere. Anything else is no hour.
pub fn hour_of(ref_hour: i64) -> Option<u32> {
    let h = if ref_hour >= 100 {
        if ref_hour % 100 != 0 {
            return None;
        }
        ref_hour / 100
    } else {
        ref_hour
    };
    u32::try_from(h).ok().filter(|h| *h < 24)
}

impl Row {
    fn date(&self) -> Option<NaiveDate> {
        self.ref_date.as_deref().and_then(cst::parse)
    }

    /// The row's samples under the four descriptions given: one per field sent.
    fn samples(&self, descs: [&Desc; 4]) -> Vec<Sample> {
        let [callbacks, failures, cost, max_cost] = descs;
        [
            (callbacks, self.callback_count.get()),
            (failures, self.fail_count.get()),
            (cost, self.total_time_cost.get().map(|ms| ms / 1000.0)),
            (max_cost, self.max_time_cost.get().or(self.max_time_count.get()).map(|ms| ms / 1000.0)),
        ]
        .into_iter()
        .filter_map(|(desc, v)| v.map(|v| Sample::new(desc, v)))
        .collect()
    }
}

/// Picks the row for `day` among `rows`: the one dated so, or a lone undated row.
pub fn summary_for(rows: Vec<Row>, day: NaiveDate) -> Option<Row> {
    pick_day(rows, |r| r.ref_date.as_deref(), day)
}

/// The hourly rows of `day`, by hour. Rows of another day or with a `ref_hour` that
/// names no hour are passed over; of two rows for one hour, the first is kept (two
/// would make one series twice).
pub fn hours_for(rows: Vec<Row>, day: NaiveDate) -> BTreeMap<u32, Row> {
    let mut out = BTreeMap::new();
    for row in rows {
        if row.date().is_some_and(|d| d != day) {
            continue;
        }
        match row.ref_hour.get().and_then(hour_of) {
            Some(h) => {
                out.entry(h).or_insert(row);
            }
            None => {
                tracing::warn!(ref_hour = ?row.ref_hour.get(), "getinterfacesummaryhour row without a usable ref_hour; skipped")
            }
        }
    }
    out
}

/// One day's data, as served (the day itself is kept by [`super::newest::Newest`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub summary: Row,
    pub hours: BTreeMap<u32, Row>,
}

impl Day {
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = self.summary.samples([&CALLBACKS, &FAILURES, &TIME_COST, &MAX_TIME_COST]);
        for (hour, row) in &self.hours {
            let descs = [&HOURLY_CALLBACKS, &HOURLY_FAILURES, &HOURLY_TIME_COST, &HOURLY_MAX_TIME_COST];
            out.extend(row.samples(descs).into_iter().map(|s| s.label("hour", hour.to_string())));
        }
        out
    }
}

/// The collector: the newest day's summary and hours.
pub type InterfaceSummary = Daily<Interface>;

#[derive(Default)]
pub struct Interface;

/// The rows of `api` for `begin..=end`, asked for in spans the API accepts.
async fn fetch(
    cx: &PollContext<'_>,
    api: &Api,
    max_days: i64,
    begin: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Row>, WechatError> {
    let mut rows = Vec::new();
    for (from, to) in spans(begin, end, max_days) {
        let resp: Response = cx.client.post(api, &Request::dashed(from, to)).await?;
        rows.extend(resp.list);
    }
    Ok(rows)
}

impl Datacube for Interface {
    type Period = NaiveDate;
    type Data = Day;

    /// `day`'s data, or None while WeChat has no summary for it. The hours are only
    /// asked for once the day is there.
    async fn fetch(&self, cx: &PollContext<'_>, day: NaiveDate) -> Result<Option<Day>, WechatError> {
        let Some(summary) = summary_for(fetch(cx, &SUMMARY, SUMMARY_MAX_DAYS, day, day).await?, day) else {
            return Ok(None);
        };
        let hours = hours_for(fetch(cx, &HOURLY, HOURLY_MAX_DAYS, day, day).await?, day);
        Ok(Some(Day { summary, hours }))
    }

    fn samples(&self, day: &Day) -> Vec<Sample> {
        day.samples()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::collectors::Account;
    use crate::collectors::Collector;
    use crate::simulator::{Options, SimApp, Simulator};
    use crate::wechat::client::decode;

    fn fixture(name: &str) -> Response {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        decode(&std::fs::read(&path).unwrap()).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn value(samples: &[Sample], desc: &Desc, hour: Option<&str>) -> Option<f64> {
        let found: Vec<f64> = samples
            .iter()
            .filter(|s| s.desc == *desc)
            .filter(|s| hour.is_none_or(|h| s.labels.iter().any(|(k, v)| k == "hour" && v == h)))
            .map(|s| s.value)
            .collect();
        assert!(found.len() <= 1, "{} twice: {found:?}", desc.name);
        found.first().copied()
    }

    #[test]
    fn seed_summary_example_maps_to_seconds() {
        let day = date(2014, 12, 7);
        let row = summary_for(fixture("interface_summary.json").list, day).unwrap();
        let d = Day { summary: row, hours: BTreeMap::new() };
        let s = d.samples();
        assert_eq!(s.len(), 4);
        assert_eq!(value(&s, &CALLBACKS, None), Some(36974.0));
        assert_eq!(value(&s, &FAILURES, None), Some(67.0));
        assert_eq!(value(&s, &TIME_COST, None), Some(14994.291));
        assert_eq!(value(&s, &MAX_TIME_COST, None), Some(5.044));
        assert_eq!(summary_for(fixture("interface_summary.json").list, date(2014, 12, 8)), None);
    }

    /// getinterfacesummary's example as wechatpy keeps it (tests/fixtures/
    /// datacube_getinterfacesummary.json), in the older documents' spelling
    /// `max_time_count`.
    #[test]
    fn the_old_spelling_max_time_count_is_max_time_cost() {
        let day = date(2014, 12, 7);
        let row = summary_for(fixture("interface_summary_max_time_count.json").list, day).unwrap();
        let s = Day { summary: row, hours: BTreeMap::new() }.samples();
        assert_eq!(value(&s, &MAX_TIME_COST, None), Some(0.123));
        assert_eq!(value(&s, &TIME_COST, None), Some(12.345));
        assert_eq!(value(&s, &FAILURES, None), Some(0.0));
        let both: Response = decode(
            br#"{"list":[{"ref_date":"2014-12-07","max_time_cost":"200","max_time_count":100}]}"#,
        )
        .unwrap();
        let s = Day { summary: summary_for(both.list, day).unwrap(), hours: BTreeMap::new() }.samples();
        assert_eq!(value(&s, &MAX_TIME_COST, None), Some(0.2), "the current spelling wins");
    }

    #[test]
    fn seed_hourly_example_lands_on_hour_zero() {
        let day = date(2014, 12, 1);
        let hours = hours_for(fixture("interface_summary_hour.json").list, day);
        assert_eq!(hours.keys().copied().collect::<Vec<_>>(), vec![0]);
        let d = Day { summary: Row::default(), hours };
        let s = d.samples();
        assert_eq!(value(&s, &HOURLY_CALLBACKS, Some("0")), Some(331.0));
        assert_eq!(value(&s, &HOURLY_FAILURES, Some("0")), Some(18.0));
        assert_eq!(value(&s, &HOURLY_TIME_COST, Some("0")), Some(167.87));
        assert_eq!(value(&s, &HOURLY_MAX_TIME_COST, Some("0")), Some(5.042));
        assert_eq!(value(&s, &CALLBACKS, None), None, "an empty summary row gives no daily sample");
    }

    #[test]
    fn hourly_form_in_hundreds_reads_as_hours() {
        let day = date(2024, 5, 6);
        let hours = hours_for(fixture("interface_summary_hour_hundreds.json").list, day);
        assert_eq!(hours.keys().copied().collect::<Vec<_>>(), (0..24).collect::<Vec<_>>());
        let s = Day { summary: Row::default(), hours }.samples();
        assert_eq!(value(&s, &HOURLY_CALLBACKS, Some("0")), Some(100.0));
        assert_eq!(value(&s, &HOURLY_CALLBACKS, Some("13")), Some(113.0));
        assert_eq!(value(&s, &HOURLY_CALLBACKS, Some("23")), Some(123.0));
        assert_eq!(value(&s, &HOURLY_MAX_TIME_COST, Some("23")), Some(0.923));
        let labels: Vec<String> =
            s.iter().filter(|x| x.desc == HOURLY_CALLBACKS).map(|x| x.labels[0].1.clone()).collect();
        assert!(labels.iter().all(|h| h.parse::<u32>().is_ok_and(|h| h < 24)), "{labels:?}");
    }

    #[test]
    fn hour_forms_and_nonsense() {
        assert_eq!(hour_of(0), Some(0));
        assert_eq!(hour_of(7), Some(7));
        assert_eq!(hour_of(23), Some(23));
        assert_eq!(hour_of(100), Some(1));
        assert_eq!(hour_of(1300), Some(13));
        assert_eq!(hour_of(2300), Some(23));
        for bad in [-1, 24, 99, 150, 2400, 10_000] {
            assert_eq!(hour_of(bad), None, "{bad}");
        }
        // Rows for another day, without an hour, or for an hour already seen are passed over.
        let rows: Response = decode(
            br#"{"list":[
                {"ref_date":"2024-05-06","ref_hour":1,"callback_count":1},
                {"ref_date":"2024-05-06","ref_hour":100,"callback_count":2},
                {"ref_date":"2024-05-05","ref_hour":2,"callback_count":3},
                {"ref_date":"2024-05-06","callback_count":4},
                {"ref_date":"2024-05-06","ref_hour":"250","callback_count":5},
                {"ref_hour":"300","callback_count":"6"}
            ]}"#,
        )
        .unwrap();
        let hours = hours_for(rows.list, date(2024, 5, 6));
        assert_eq!(hours.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(hours[&1].callback_count.get(), Some(1.0));
        assert_eq!(hours[&3].callback_count.get(), Some(6.0));
    }

    #[test]
    fn missing_fields_are_missing_samples() {
        let r: Response = decode(
            br#"{"list":[{"ref_date":"2024-05-06","callback_count":"12","fail_count":0,"max_time_cost":null}]}"#,
        )
        .unwrap();
        let row = summary_for(r.list, date(2024, 5, 6)).unwrap();
        let s = Day { summary: row, hours: BTreeMap::new() }.samples();
        assert_eq!(value(&s, &CALLBACKS, None), Some(12.0));
        assert_eq!(value(&s, &FAILURES, None), Some(0.0), "a real 0 stays 0");
        assert_eq!(value(&s, &TIME_COST, None), None);
        assert_eq!(value(&s, &MAX_TIME_COST, None), None);
        let empty: Response = decode(br#"{"list":[]}"#).unwrap();
        assert_eq!(summary_for(empty.list, date(2024, 5, 6)), None);
    }

    #[test]
    fn a_span_that_must_be_split() {
        let (b, e) = (date(2024, 1, 1), date(2024, 3, 5));
        let s = spans(b, e, SUMMARY_MAX_DAYS);
        assert_eq!(
            s,
            vec![
                (date(2024, 1, 1), date(2024, 1, 30)),
                (date(2024, 1, 31), date(2024, 2, 29)),
                (date(2024, 3, 1), date(2024, 3, 5)),
            ]
        );
        for (from, to) in &s {
            assert!((*to - *from).num_days() < SUMMARY_MAX_DAYS, "{from}..{to}");
        }
        let hourly = spans(date(2024, 2, 28), date(2024, 3, 1), HOURLY_MAX_DAYS);
        assert_eq!(
            hourly,
            vec![
                (date(2024, 2, 28), date(2024, 2, 28)),
                (date(2024, 2, 29), date(2024, 2, 29)),
                (date(2024, 3, 1), date(2024, 3, 1)),
            ]
        );
        assert_eq!(spans(b, b, SUMMARY_MAX_DAYS), vec![(b, b)]);
        assert_eq!(spans(date(2024, 1, 1), date(2024, 1, 30), 30).len(), 1, "exactly the maximum is one span");
        assert_eq!(spans(date(2024, 1, 1), date(2024, 1, 31), 30).len(), 2);
        assert!(spans(e, b, 30).is_empty(), "an empty span asks nothing");
    }

    #[test]
    fn request_dates_are_dashed() {
        assert_eq!(
            serde_json::to_value(Request::dashed(date(2014, 12, 7), date(2014, 12, 7))).unwrap(),
            serde_json::json!({"begin_date": "2014-12-07", "end_date": "2014-12-07"})
        );
    }

    /// The collector against the simulator, with a clock the test moves: before
    /// yesterday is published it serves the day before, then yesterday.
    #[tokio::test]
    async fn serves_the_day_before_until_yesterday_is_published() {
        let now: Arc<Mutex<DateTime<Utc>>> =
            Arc::new(Mutex::new(DateTime::parse_from_rfc3339("2024-05-07T02:00:00+08:00").unwrap().to_utc()));
        let clock = now.clone();
        let mut app = SimApp::new("news", "wxtest00000news1", Account::OfficialAccount);
        app.odd = true;
        let mut opts = Options::new(vec![app.clone()]);
        opts.publish_hour = 9;
        opts.clock = Arc::new(move || *clock.lock().unwrap());
        let sim = Simulator::start(opts).await.unwrap();
        let client = sim.client_for(&app).unwrap();

        let mut c = InterfaceSummary::default();
        let (yesterday, before) = (date(2024, 5, 6), date(2024, 5, 5));
        let at = *now.lock().unwrap();
        let out = c.poll(&PollContext::new(&client, at)).await.unwrap();
        assert_eq!(out.data_date, Some(before));
        let want = sim::day(&app.appid, before);
        assert_eq!(value(&out.samples, &CALLBACKS, None), want.callback_count.get());
        assert_eq!(value(&out.samples, &MAX_TIME_COST, None), None, "the odd app leaves max_time_cost out");
        let h13 = sim::hour(&app.appid, before, 13);
        assert_eq!(value(&out.samples, &HOURLY_CALLBACKS, Some("13")), h13.callback_count.get());
        assert_eq!(value(&out.samples, &HOURLY_TIME_COST, Some("13")), h13.total_time_cost.get().map(|ms| ms / 1000.0));
        let hourly_calls = sim.calls(HOURLY.path);
        assert_eq!(hourly_calls.len(), 1, "no hours are asked for a day without a summary");
        assert_eq!(hourly_calls[0].body, serde_json::json!({"begin_date": "2024-05-05", "end_date": "2024-05-05"}));

        // Still early: yesterday is asked for again, the day before is not.
        let summary_calls = sim.calls(SUMMARY.path).len();
        let out = c.poll(&PollContext::new(&client, at)).await.unwrap();
        assert_eq!(out.data_date, Some(before));
        assert_eq!(sim.calls(SUMMARY.path).len(), summary_calls + 1);
        assert_eq!(sim.calls(HOURLY.path).len(), 1);

        // Yesterday is out.
        let later = DateTime::parse_from_rfc3339("2024-05-07T10:00:00+08:00").unwrap().to_utc();
        *now.lock().unwrap() = later;
        let out = c.poll(&PollContext::new(&client, later)).await.unwrap();
        assert_eq!(out.data_date, Some(yesterday));
        let want = sim::day(&app.appid, yesterday);
        assert_eq!(value(&out.samples, &FAILURES, None), want.fail_count.get());
        assert_eq!(value(&out.samples, &TIME_COST, None), want.total_time_cost.get().map(|ms| ms / 1000.0));
        assert_eq!(out.samples.iter().filter(|s| s.desc == HOURLY_CALLBACKS).count(), 24);
        for call in sim.calls(SUMMARY.path).iter().chain(sim.calls(HOURLY.path).iter()) {
            let end = call.body["end_date"].as_str().unwrap();
            assert!(end == "2024-05-06" || end == "2024-05-05", "never after yesterday: {call:?}");
        }
    }

    #[tokio::test]
    async fn the_wrong_account_kind_is_refused() {
        let app = SimApp::new("shop", "wxtest00000shop1", Account::Miniprogram);
        let sim = Simulator::start(Options::new(vec![app.clone()])).await.unwrap();
        let client = sim.client_for(&app).unwrap();
        let err =
            InterfaceSummary::default().poll(&PollContext::new(&client, Utc::now())).await.unwrap_err();
        assert_eq!(err.errcode(), Some(48001));
        assert_eq!(client.telemetry.requests_to(SUMMARY.name), 1);
    }
}
