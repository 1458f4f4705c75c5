//! Secrets never leak; basic auth and TLS from the web config; signals.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::simulator::{Fault, SimApp};

const VISIT: &str = "/datacube/getweanalysisappiddailyvisittrend";
const PERF: &str = "/wxaapi/log/get_performance";

/// Every error path at once, with debug logging: none of the secrets nor any token
/// WeChat issued may show in the logs, the metrics, the landing page or an error.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_or_token_leaks_on_any_path() {
    let good = SimApp::new("good", "wxleak0000000good", Account::Miniprogram);
    let faulty = SimApp::new("faulty", "wxleak00000faulty", Account::Miniprogram);
    let mut wrong = SimApp::new("wrong", "wxleak000000wrong", Account::Miniprogram);
    let sim = simulator(vec![good.clone(), faulty.clone(), wrong.clone()]).await;
    let real_wrong_secret = wrong.secret.clone();
    wrong.secret = "wrong-secret-0123456789abcdef".into();
    let apps = vec![good.clone(), faulty.clone(), wrong.clone()];

    for f in [
        Fault::Errcode(40001),
        Fault::Errcode(42001),
        Fault::Errcode(40014),
        Fault::Errcode(-1),
        Fault::Http(502),
        Fault::Body("{\"errcode\":0,\"list\":[{\"visit_pv\":\"NaNish\"}]}".into()),
        Fault::Reset,
        Fault::Hang,
        Fault::Errcode(45011),
    ] {
        sim.inject(&faulty.appid, VISIT, f.clone());
        sim.inject(&faulty.appid, PERF, f);
    }
    // A token endpoint that fails in odd ways too.
    sim.inject(&faulty.appid, "/cgi-bin/stable_token", Fault::Http(500));

    let dir = tempdir("leak");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "NOT_A_VALID_TOKEN_abcdef0123456789\n").unwrap();
    let mut config = config_for(&sim.base_url(), &apps, "    collectors:\n      visit_trend: {interval: 1s}\n      performance: {interval: 1s}\n")
        .replace("timeout: 3s", "timeout: 1s");
    config.push_str(&format!(
        "  - name: tokenfile\n    appid: {}\n    account: miniprogram\n    access_token_file: {}\n    collectors:\n      visit_trend: {{interval: 1s}}\n",
        good.appid,
        token_file.display()
    ));

    let mut seen = String::new();
    for format in ["logfmt", "json"] {
        let exp = Exporter::start(&config, &["--log.level", "debug", "--log.format", format], &[]);
        exp.wait_ready().await;
        tokio::time::sleep(Duration::from_millis(3500)).await;
        seen.push_str(&exp.get("/metrics").await.1);
        seen.push_str(&exp.get("/").await.1);
        // A reload that fails, with the secret next to the error.
        std::fs::write(exp.config_path(), format!("{config}    bogus_key: 1\n")).unwrap();
        let r = reqwest::Client::new().post(exp.url("/-/reload")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        seen.push_str(&r.text().await.unwrap());
        seen.push_str(&exp.log());
    }
    let once = Command::new(bin()).args(["--once", "--log.level", "debug", "--config.file"]).arg(dir.join("c.yml")).output().unwrap();
    seen.push_str(&String::from_utf8_lossy(&once.stderr));
    std::fs::write(dir.join("c.yml"), &config).unwrap();
    let once = Command::new(bin()).args(["--once", "--log.level", "debug", "--config.file"]).arg(dir.join("c.yml")).output().unwrap();
    seen.push_str(&String::from_utf8_lossy(&once.stdout));
    seen.push_str(&String::from_utf8_lossy(&once.stderr));

    // The paths were really taken.
    for reason in ["errcode_40125", "http_502", "timeout", "connect", "invalid_response", "errcode_45011", "errcode_40001"] {
        assert!(seen.contains(reason), "no {reason} seen: the error path was not driven");
    }
    let tokens = sim.all_issued_tokens();
    assert!(tokens.len() >= 3, "tokens were issued and refreshed: {tokens:?}");
    let mut secrets: Vec<String> = vec![good.secret.clone(), faulty.secret.clone(), wrong.secret.clone(), real_wrong_secret];
    secrets.push("NOT_A_VALID_TOKEN_abcdef0123456789".into());
    secrets.extend(tokens);
    for s in &secrets {
        assert!(!seen.contains(s.as_str()), "leaked {s}");
    }
}

fn write_cert(dir: &std::path::Path, name: &str) -> String {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join(format!("{name}.crt")), ck.cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), ck.signing_key.serialize_pem()).unwrap();
    ck.cert.pem()
}

fn https_client(ca_pem: &str, addr: &str) -> reqwest::Client {
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .resolve("localhost", sock)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_basic_auth_from_the_web_config_reread_on_change() {
    let app = SimApp::new("shop", "wxweb00000000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let dir = tempdir("web");
    let ca1 = write_cert(&dir, "one");
    let hash = bcrypt::hash("right-password", 4).unwrap();
    let web = dir.join("web.yml");
    // Relative file names are read next to the web config, as exporter-toolkit does.
    std::fs::write(&web, format!("tls_server_config:\n  cert_file: one.crt\n  key_file: one.key\nbasic_auth_users:\n  prom: {hash}\n")).unwrap();
    let config = config_for(&sim.base_url(), &[app], "    collectors:\n      visit_trend: {interval: 1h}\n");
    let exp = Exporter::start(&config, &["--web.config.file", web.to_str().unwrap()], &[]);
    assert!(exp.log().contains("scheme=https"), "{}", exp.log());
    let port = exp.addr.rsplit(':').next().unwrap().to_string();
    let url = format!("https://localhost:{port}/metrics");

    let c = https_client(&ca1, &exp.addr);
    assert_eq!(c.get(&url).send().await.unwrap().status().as_u16(), 401, "no credentials");
    let r = c.get(&url).basic_auth("prom", Some("wrong-password")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "wrong password");
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(c.get(&url).basic_auth("nobody", Some("right-password")).send().await.unwrap().status().as_u16(), 401);
    let r = c.get(&url).basic_auth("prom", Some("right-password")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("wechat_app_info"));
    // Plain HTTP on the TLS port gets nothing useful.
    assert!(!reqwest::get(exp.url("/metrics")).await.map(|r| r.status().is_success()).unwrap_or(false));

    // A new password and a new certificate take effect without a restart.
    let ca2 = write_cert(&dir, "two");
    let hash2 = bcrypt::hash("new-password", 4).unwrap();
    std::fs::write(&web, format!("tls_server_config:\n  cert_file: two.crt\n  key_file: two.key\nbasic_auth_users:\n  prom: {hash2}\n")).unwrap();
    let c2 = https_client(&ca2, &exp.addr);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c2.get(&url).basic_auth("prom", Some("new-password")).send().await;
        if matches!(&r, Ok(r) if r.status().as_u16() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "new web config not applied: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c2.get(&url).basic_auth("prom", Some("right-password")).send().await.unwrap().status().as_u16(), 401);

    // A broken change is refused and the settings in force stay.
    std::fs::write(&web, "basic_auth_users:\n  prom: not-a-hash\n").unwrap();
    let r = c2.get(&url).basic_auth("prom", Some("new-password")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(exp.log().contains("web config change not applied"), "{}", exp.log());
}

fn signal(exp: &Exporter, sig: &str) {
    let status = Command::new("kill").args([sig, &exp.child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_and_sigterm_stops_cleanly() {
    let a = SimApp::new("a", "wxsig0000000000a", Account::Miniprogram);
    let b = SimApp::new("b", "wxsig0000000000b", Account::Miniprogram);
    let sim = simulator(vec![a.clone(), b.clone()]).await;
    let collectors = "    collectors:\n      visit_trend: {interval: 1h}\n";
    let mut exp = Exporter::start(&config_for(&sim.base_url(), std::slice::from_ref(&a), collectors), &[], &[]);
    exp.wait_ready().await;
    assert_eq!(sim.calls("/cgi-bin/stable_token").len(), 1);

    std::fs::write(exp.config_path(), config_for(&sim.base_url(), &[a.clone(), b.clone()], collectors)).unwrap();
    signal(&exp, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = parse(&exp.get("/metrics").await.1);
        if value(&lines, "wechat_daily_visit_pv", &[("app", "b")]).is_some() {
            assert!(value(&lines, "wechat_daily_visit_pv", &[("app", "a")]).is_some());
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not add app b: {}", exp.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The unchanged app kept its token: one fetch for a, one for b.
    assert_eq!(sim.calls("/cgi-bin/stable_token").len(), 2);
    assert_eq!(sim.calls(VISIT).iter().filter(|c| c.appid.as_deref() == Some(a.appid.as_str())).count(), 1, "a was not restarted");

    signal(&exp, "-TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = exp.child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}: {}", exp.log());
    assert!(exp.log().contains("shutting down"));
}
