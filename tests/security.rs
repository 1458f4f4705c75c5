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
    let stale = SimApp::new("stale", "wxleak000000stale", Account::Miniprogram);
    let mut wrong = SimApp::new("wrong", "wxleak000000wrong", Account::Miniprogram);
    let sim = simulator(vec![good.clone(), faulty.clone(), stale.clone(), wrong.clone()]).await;
    let real_wrong_secret = wrong.secret.clone();
    wrong.secret = "wrong-secret-0123456789abcdef".into();
    let apps = vec![good.clone(), faulty.clone(), stale.clone(), wrong.clone()];

    // Each API gets its own list, so all are met within the test's polls. Stale
    // tokens go to an app of their own: after one forced refresh the next waits
    // 30 s, and the app's calls fail meanwhile.
    for code in [40001, 42001, 40014] {
        sim.inject(&stale.appid, VISIT, Fault::Errcode(code));
    }
    let trap = Trap::start().await;
    for f in [Fault::Errcode(-1), Fault::Http(502), Fault::Body("{\"errcode\":0,\"list\":[{\"visit_pv\":\"NaNish\"}]}".into()), Fault::Reset, Fault::Hang, Fault::Errcode(45011)] {
        sim.inject(&faulty.appid, VISIT, f);
    }
    for f in [
        // Redirects to another host, which must hear nothing: not the token in a data
        // API's query string or a Referer, not the secret in a re-posted stable_token body.
        Fault::Redirect { status: 302, location: trap.url(VISIT) },
        Fault::Huge { bytes: 8 << 20, declared: false },
        Fault::Errcode(987654),
    ] {
        sim.inject(&faulty.appid, PERF, f);
    }
    // A token endpoint that fails in odd ways too.
    sim.inject(&faulty.appid, "/cgi-bin/stable_token", Fault::Http(500));
    sim.inject(&good.appid, "/cgi-bin/stable_token", Fault::Redirect { status: 307, location: trap.url("/cgi-bin/stable_token") });

    let dir = tempdir("leak");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "NOT_A_VALID_TOKEN_abcdef0123456789\n").unwrap();
    let mut config = config_for(&sim.base_url(), &apps, "    collectors:\n      visit_trend: {interval: 1s}\n      performance: {interval: 1s}\n")
        .replace("timeout: 3s", "timeout: 1s");
    config.push_str(&format!(
        "  - name: tokenfile\n    appid: wxleak00tokenfile\n    account: miniprogram\n    access_token_file: {}\n    collectors:\n      visit_trend: {{interval: 1s}}\n",
        token_file.display()
    ));

    let mut seen = String::new();
    for format in ["logfmt", "json"] {
        let exp = Exporter::start(&config, &["--log.level", "debug", "--log.format", format], &[]);
        exp.wait_ready().await;
        // The faulty app's faults come one a poll, and a transient one is tried again within
        // its poll after a pause: wait until the last of them (the quota) has been met.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !exp.get("/metrics").await.1.contains("reason=\"errcode_45011\"") && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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
    for reason in [
        "errcode_40125",
        "http_502",
        "timeout",
        "connect",
        "invalid_response",
        "errcode_45011",
        "errcode_40001",
        "redirect",
        "too_large",
        "errcode_other",
    ] {
        assert!(seen.contains(reason), "no {reason} seen: the error path was not driven");
    }
    assert_eq!(trap.hits(), 0, "a redirect was followed: {}", trap.received());
    let tokens = sim.all_issued_tokens();
    assert!(tokens.len() >= 3, "tokens were issued and refreshed: {tokens:?}");
    let mut secrets: Vec<String> =
        vec![good.secret.clone(), faulty.secret.clone(), stale.secret.clone(), wrong.secret.clone(), real_wrong_secret];
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
    // Every path asks for credentials but the two probes, which a kubelet cannot log in to.
    for path in ["/", "/metrics?x=1", "/nowhere"] {
        let status = c.get(format!("https://localhost:{port}{path}")).send().await.unwrap().status().as_u16();
        assert!(status == 401 || (path == "/nowhere" && status == 404), "{path}: {status}");
    }
    assert_eq!(c.post(format!("https://localhost:{port}/-/reload")).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(c.get(format!("https://localhost:{port}/healthz")).send().await.unwrap().status().as_u16(), 200);
    let ready = c.get(format!("https://localhost:{port}/readyz")).send().await.unwrap().status().as_u16();
    assert!(ready == 200 || ready == 503, "/readyz answers without credentials: {ready}");
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
    wait_log(&exp, "web config change not applied", 1).await;
}

/// Waits until the exporter's log holds `needle` at least `count` times (the log
/// arrives through a pipe, a little after the request it belongs to).
async fn wait_log(exp: &Exporter, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while exp.log().matches(needle).count() < count {
        assert!(Instant::now() < deadline, "{needle:?} not logged {count} times: {}", exp.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A web config that no longer loads (emptied by a failed write, a hash cut short)
/// is refused: authentication stays on, with the password in force.
#[tokio::test(flavor = "multi_thread")]
async fn an_emptied_or_half_written_web_config_keeps_authentication_on() {
    let (_sim, config) = one_app("wxwebcut00000shop").await;
    let web = tempdir("webcut").join("web.yml");
    let users = format!("basic_auth_users:\n  prom: {}\n", bcrypt::hash("right-password", 4).unwrap());
    let exp = start_with_web(&config, &web, &users, &[]);
    let get = |user: Option<&str>| {
        let mut r = reqwest::Client::new().get(exp.url("/metrics"));
        if let Some(p) = user {
            r = r.basic_auth("prom", Some(p));
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(None).await, 401);
    assert_eq!(get(Some("right-password")).await, 200);
    for (i, broken) in ["", "basic_auth_users:\n  prom: $2b$10$\n", "basic_auth_users: {}\n", "# nothing\n"].iter().enumerate() {
        std::fs::write(&web, broken).unwrap();
        assert_eq!(get(None).await, 401, "{broken:?} turned authentication off");
        assert_eq!(get(Some("right-password")).await, 200, "{broken:?} locked the right password out");
        wait_log(&exp, "web config change not applied", i + 1).await;
    }
    assert!(exp.log().contains("level=error"), "{}", exp.log());
}

/// One mini program on the simulator, and a config that polls it hourly.
async fn one_app(appid: &str) -> (wechat_exporter::simulator::Simulator, String) {
    let app = SimApp::new("shop", appid, Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let config = config_for(&sim.base_url(), &[app], "    collectors:\n      visit_trend: {interval: 1h}\n");
    (sim, config)
}

/// The exporter with `text` written to `web` as its web config, and more flags.
fn start_with_web(config: &str, web: &std::path::Path, text: &str, args: &[&str]) -> Exporter {
    std::fs::write(web, text).unwrap();
    let mut all = vec!["--web.config.file", web.to_str().unwrap()];
    all.extend_from_slice(args);
    Exporter::start(config, &all, &[])
}

/// Counts the sockets a process holds open.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")))
                .count()
        })
        .unwrap_or(0)
}

/// A client that opens a connection and then sends `start` and a byte every 200 ms,
/// never finishing: true once the server closes it, false if it is still open at `until`.
async fn slow_client(addr: String, start: &'static [u8], until: Instant) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else { return true };
    if s.write_all(start).await.is_err() {
        return true;
    }
    let mut buf = [0u8; 1024];
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => {
                if s.write_all(b"a").await.is_err() {
                    return true;
                }
            }
        }
    }
    false
}

/// Slowloris, on HTTP and TLS alike: more connections than the cap, each sending its
/// headers (or its TLS hello) a byte at a time. The exporter holds no more than the cap
/// open, closes each slow one after the header-read timeout, and a normal scrape
/// behind them gets its answer.
#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_cannot_take_the_endpoint() {
    const CAP: usize = 16;
    const SLOW: usize = 48;
    let (_sim, config) = one_app("wxslow0000000shop").await;
    let dir = tempdir("slowloris");
    let ca = write_cert(&dir, "srv");
    let web = dir.join("web.yml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: srv.crt\n  key_file: srv.key\n").unwrap();
    let limits = ["--web.max-connections", "16", "--web.header-read-timeout", "1s"];
    for tls in [false, true] {
        let mut args = limits.to_vec();
        if tls {
            args.extend(["--web.config.file", web.to_str().unwrap()]);
        }
        let exp = Exporter::start(&config, &args, &[]);
        let pid = exp.child.id();
        let client = if tls { https_client(&ca, &exp.addr) } else { reqwest::Client::new() };
        let port = exp.addr.rsplit(':').next().unwrap().to_string();
        let url = if tls { format!("https://localhost:{port}/metrics") } else { exp.url("/metrics") };
        assert_eq!(client.get(&url).send().await.unwrap().status().as_u16(), 200);
        let before = sockets(pid);

        let start: &'static [u8] = if tls { b"\x16\x03\x01\x02\x00\x01" } else { b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " };
        let until = Instant::now() + Duration::from_secs(15);
        let slow: Vec<_> = (0..SLOW).map(|_| tokio::spawn(slow_client(exp.addr.clone(), start, until))).collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let held = sockets(pid).saturating_sub(before);
        assert!(held <= CAP + 2, "tls {tls}: {held} more sockets open with {SLOW} slow clients and a cap of {CAP}");

        let scrape = client.get(&url).timeout(Duration::from_secs(12)).send().await;
        let scrape = scrape.unwrap_or_else(|e| panic!("tls {tls}: the scrape behind the slow clients failed: {e:?}"));
        assert_eq!(scrape.status().as_u16(), 200);
        assert!(scrape.text().await.unwrap().contains("wechat_app_info"));
        for s in slow {
            assert!(s.await.unwrap(), "tls {tls}: a slow client was still connected after 15s");
        }
    }
}

/// bcrypt checks run a few at a time: a flood of wrong passwords is refused fast
/// (429) once they are busy, while a correct, already checked credential passes at
/// once; and an unknown user costs as much as a known one.
#[tokio::test(flavor = "multi_thread")]
async fn password_checks_are_bounded_and_do_not_tell_who_exists() {
    let (_sim, config) = one_app("wxbcrypt00000shop").await;
    let web = tempdir("bcrypt").join("web.yml");
    let users = format!("basic_auth_users:\n  prom: {}\n", bcrypt::hash("right-password", 8).unwrap());
    let exp = start_with_web(&config, &web, &users, &["--web.auth-concurrency", "1"]);
    let client = reqwest::Client::new();
    let url = exp.url("/metrics");
    let timed = |user: &'static str, password: String| {
        let r = client.get(&url).basic_auth(user, Some(password));
        async move {
            let t = Instant::now();
            let status = r.send().await.unwrap().status().as_u16();
            (status, t.elapsed())
        }
    };

    // Timing: a known user with a wrong password, and an unknown one, alternately.
    let _ = timed("nobody", "warm-up".into()).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let (s, t) = timed("prom", format!("wrong-{i}")).await;
        assert_eq!(s, 401);
        known.push(t);
        let (s, t) = timed("nobody", format!("wrong-{i}")).await;
        assert_eq!(s, 401);
        unknown.push(t);
    }
    known.sort();
    unknown.sort();
    assert!(unknown[2] * 3 >= known[2], "an unknown user is told apart by time: {unknown:?} against {known:?}");

    assert_eq!(timed("prom", "right-password".into()).await.0, 200);
    let flood: Vec<_> = (0..60).map(|i| tokio::spawn(timed("prom", format!("flood-{i}")))).collect();
    for _ in 0..10 {
        let (s, t) = timed("prom", "right-password".into()).await;
        assert_eq!(s, 200, "a remembered credential was refused during the flood");
        assert!(t < Duration::from_secs(5), "a remembered credential waited {t:?}");
    }
    let mut statuses = Vec::new();
    for f in flood {
        statuses.push(f.await.unwrap().0);
    }
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "no request was refused fast while checks were busy: {statuses:?}");
}

/// At SIGTERM a request in flight finishes, on TLS as on plain HTTP. The request is
/// held in flight by a slow (high-cost) bcrypt check of its credentials.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_in_flight_at_sigterm_completes_on_tls_and_http() {
    let (_sim, config) = one_app("wxgrace00000shop").await;
    let dir = tempdir("grace");
    let ca = write_cert(&dir, "srv");
    let hash = bcrypt::hash("right-password", 12).unwrap();
    for tls in [true, false] {
        let tls_part = if tls { "tls_server_config:\n  cert_file: srv.crt\n  key_file: srv.key\n" } else { "" };
        let web = format!("{tls_part}basic_auth_users:\n  prom: {hash}\n");
        let mut exp = start_with_web(&config, &dir.join(format!("web-{tls}.yml")), &web, &[]);
        let port = exp.addr.rsplit(':').next().unwrap().to_string();
        let (client, url) = if tls {
            (https_client(&ca, &exp.addr), format!("https://localhost:{port}/metrics"))
        } else {
            (reqwest::Client::new(), exp.url("/metrics"))
        };
        // The connection is up before the scrape starts, so only the request is in flight.
        assert_eq!(client.get(&url).send().await.unwrap().status().as_u16(), 401);
        let scrape = tokio::spawn(client.get(&url).basic_auth("prom", Some("right-password")).send());
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(&exp, "-TERM");
        let resp = scrape.await.unwrap().unwrap_or_else(|e| panic!("tls {tls}: the scrape in flight was cut: {e}"));
        assert_eq!(resp.status().as_u16(), 200, "tls {tls}");
        assert!(resp.text().await.unwrap().contains("wechat_app_info"), "tls {tls}");
        let started = Instant::now();
        while exp.child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(10), "tls {tls}: no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A config whose file reads hang (here the config file became a FIFO nobody writes
/// to) leaves the exporter answering SIGTERM; `--config.check` refuses a FIFO secret
/// file at once, naming it.
#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_config_read_never_blocks_sigterm() {
    let app = SimApp::new("shop", "wxfifo00000shop", Account::Miniprogram);
    let sim = simulator(vec![app.clone()]).await;
    let dir = tempdir("fifo");
    let fifo = dir.join("secret");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let with_fifo = format!(
        "apps:\n  - name: shop\n    appid: {}\n    account: miniprogram\n    secret_file: {}\n",
        app.appid,
        fifo.display()
    );
    std::fs::write(dir.join("c.yml"), &with_fifo).unwrap();
    let mut check = Command::new(bin())
        .args(["--config.check", "--config.file"])
        .arg(dir.join("c.yml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while check.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(15) {
            let _ = check.kill();
            panic!("--config.check hangs on a FIFO secret_file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = check.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&fifo.display().to_string()) && err.contains("FIFO"), "{err}");

    let mut exp = Exporter::start(&config_for(&sim.base_url(), &[app], "    collectors:\n      visit_trend: {interval: 1h}\n"), &[], &[]);
    exp.wait_ready().await;
    std::fs::remove_file(exp.config_path()).unwrap();
    assert!(Command::new("mkfifo").arg(exp.config_path()).status().unwrap().success());
    signal(&exp, "-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&exp, "-TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = exp.child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no exit after SIGTERM while a reload is stuck: {}", exp.log());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {}", exp.log());
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
