//! Property-based fuzzing of everything that reads outside input: WeChat's answers
//! (as raw bytes, as arbitrary JSON, and as mutations of the documented examples in
//! `tests/data/`, the seed corpus) and the config file. The property: no panic, and a
//! result that is either a value or a typed error. `PROPTEST_CASES` sets the depth
//! (CI runs the default; the closing notes record longer runs).

use proptest::prelude::*;
use serde_json::Value;
use wechat_exporter::collectors::datacube::{Datacube, pick_day, pick_period};
use wechat_exporter::collectors::newest::{Month, Period, Week};
use wechat_exporter::collectors::{
    List, article_reads, upstream_msg, user_summary,
};
use wechat_exporter::collectors::{
    cloudbase_sms, daily_summary, interface_summary, performance, realtime_log, retain, user_portrait, visit_distribution,
    visit_page, visit_trend,
};
use wechat_exporter::wechat::client::decode;

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty());
    out
}

/// Arbitrary JSON, biased towards the shapes WeChat uses.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("list".to_string()), Just("ref_date".to_string()), Just("errcode".to_string()),
        Just("default_time_data".to_string()), Just("cost_time".to_string()), Just("visit_pv".to_string()),
        Just("session_cnt".to_string()), Just("data".to_string()), Just("total".to_string()),
        Just("ref_hour".to_string()), Just("callback_count".to_string()), Just("data_column".to_string()),
        Just("data_value".to_string()), Just("col_id".to_string()), Just("col_data_type".to_string()),
        Just("total_num".to_string()), Just("level".to_string()), Just("timestamp".to_string()),
        Just("visit_total".to_string()), Just("visit_uv_new".to_string()), Just("visit_uv".to_string()),
        Just("key".to_string()), Just("value".to_string()), Just("page_path".to_string()),
        Just("page_visit_pv".to_string()), Just("index".to_string()), Just("item_list".to_string()),
        Just("province".to_string()), Just("devices".to_string()), Just("name".to_string()), "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        "[0-9]{0,10}".prop_map(Value::String),
        ".{0,16}".prop_map(Value::String),
        Just(Value::String("{\"list\":[{\"ref_date\":\"20240101\",\"cost_time\":\"5\"}]}".into())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Reads `bytes` with every response reader; none may panic.
fn read_all(bytes: &[u8]) {
    if let Ok(r) = decode::<visit_trend::Response>(bytes) {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        if let Some(row) = r.row_for(day) {
            for s in row.samples() {
                assert!(s.value.is_finite());
            }
        }
    }
    if let Ok(r) = decode::<performance::Response>(bytes) {
        for t in [performance::CostTimeType::Startup, performance::CostTimeType::Download] {
            if let Ok(Some((_, ms))) = r.newest(t) {
                assert!(ms.is_finite());
            }
        }
    }
    if let Ok(r) = decode::<interface_summary::Response>(bytes) {
        let day = chrono::NaiveDate::from_ymd_opt(2014, 12, 7).unwrap();
        let hours = interface_summary::hours_for(r.list.clone(), day);
        assert!(hours.keys().all(|h| *h < 24));
        let _ = interface_summary::summary_for(r.list, day);
    }
    if let Ok(r) = decode::<cloudbase_sms::Response>(bytes) {
        let activity = cloudbase_sms::Activity { activity_id: "a".into(), channel_ids: vec!["_cms_sms_".into()] };
        let mut unparsed = 0;
        let mut series = cloudbase_sms::Series::default();
        for q in cloudbase_sms::queries(&activity) {
            q.samples("env", "a", &r, &mut unparsed, &mut series);
        }
        for s in series.into_samples() {
            assert!(s.value.is_finite(), "{s:?}");
            assert!(s.desc.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{s:?}");
        }
    }
    let finite = |samples: &[wechat_exporter::store::Sample]| samples.iter().all(|s| s.value.is_finite());
    let day = chrono::NaiveDate::from_ymd_opt(2017, 3, 13).unwrap();
    if let Ok(r) = decode::<daily_summary::Response>(bytes)
        && let Some(row) = pick_day(r.list, |r| r.ref_date.as_deref(), day)
    {
        assert!(finite(&row.samples()));
    }
    if let Ok(r) = decode::<retain::Response>(bytes) {
        let _ = r.is_for(day);
        for k in retain::KEYS {
            assert!(r.key(k).iter().all(|(_, v)| v.is_finite()));
        }
    }
    if let Ok(r) = decode::<visit_page::Response>(bytes) {
        let top = visit_page::top_pages(r.list, 5);
        assert!(top.len() <= 5);
        assert!(finite(&visit_page::Pages { top: 5 }.samples(&top)));
    }
    if let Ok(r) = decode::<visit_distribution::Response>(bytes) {
        assert!(finite(&r.samples()));
    }
    if let Ok(r) = decode::<user_portrait::Response>(bytes) {
        let _ = r.has_data();
        if let Ok(samples) = r.samples(&user_portrait::Dimension::ALL) {
            assert!(finite(&samples));
        }
    }
    if let Ok(r) = decode::<visit_trend::Response>(bytes) {
        let _ = pick_period(r.list.clone(), |r| r.ref_date.as_deref(), Week::of(day));
        let _ = pick_period(r.list, |r| r.ref_date.as_deref(), Month::of(day));
    }
    // The Official Account readers, on the day of WeChat's examples (2014-12-07).
    let oa_day = chrono::NaiveDate::from_ymd_opt(2014, 12, 7).unwrap();
    let summary = decode::<List<user_summary::SourceRow>>(bytes).map(|r| r.list).unwrap_or_default();
    let cumulate = decode::<List<user_summary::CumulateRow>>(bytes).map(|r| r.list).unwrap_or_default();
    if let Some(d) = user_summary::Day::from_rows(summary, cumulate, oa_day) {
        assert!(finite(&d.samples()));
    }
    if let Ok(r) = decode::<List<article_reads::Row>>(bytes)
        && let Some(rows) = article_reads::day_of(r.list, oa_day)
    {
        assert!(finite(&article_reads::Reads.samples(&rows)));
    }
    if let Ok(r) = decode::<List<upstream_msg::Row>>(bytes)
        && let Some(rows) = upstream_msg::day_of(r.list, oa_day)
    {
        assert!(finite(&upstream_msg::samples(&rows)));
    }
    if let Ok(r) = decode::<realtime_log::Response>(bytes) {
        for rec in r.data.map(|d| d.list).unwrap_or_default() {
            let _ = realtime_log::Level::of(rec.level.get().unwrap_or(0));
        }
    }
}

proptest! {
    #[test]
    fn raw_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_all(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in json()) {
        read_all(v.to_string().as_bytes());
        let wrapped = serde_json::json!({"list": [v.clone()], "default_time_data": v.to_string()});
        read_all(wrapped.to_string().as_bytes());
    }

    #[test]
    fn mutated_seeds_never_panic(seed in 0usize..64, cuts in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut_at in any::<usize>()) {
        let seeds = seeds();
        let mut bytes = seeds[seed % seeds.len()].clone();
        for (at, b) in cuts {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = b;
            }
        }
        read_all(&bytes);
        bytes.truncate(cut_at % (bytes.len() + 1));
        read_all(&bytes);
    }

    #[test]
    fn config_text_never_panics(text in ".{0,300}", yaml in prop::sample::select(vec![
        "apps:\n  - name: a\n    appid: wx\n    account: miniprogram\n    secret: s\n",
        "apps:\n  - {name: a, appid: wx, account: official_account, secret: s, collectors: {performance: {queries: [{cost_time_type: startup}]}}}\n",
        "wechat: {timeout: 1s}\napps: []\n",
    ]), at in any::<usize>()) {
        let _ = wechat_exporter::config::parse(&text, "fuzz.yml", &|_| None);
        let mut mixed = yaml.to_string();
        let i = at % (mixed.len() + 1);
        let i = (0..=i).rev().find(|i| mixed.is_char_boundary(*i)).unwrap_or(0);
        mixed.insert_str(i, &text);
        let _ = wechat_exporter::config::parse(&mixed, "fuzz.yml", &|_| None);
    }
}
