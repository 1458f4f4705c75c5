//! Third-party platforms, against a real redis-server and the simulator: discovery
//! over pages, apps that come and go, tokens read (never made) from Redis, Redis
//! going away and coming back, and Redis left exactly as it was.

mod platform_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use platform_support::redis_server::RedisServer;
use platform_support::*;
use wechat_exporter::collectors::Account;
use wechat_exporter::platform::discovery::{self, Authorizer, ComponentClient, Discovery};
use wechat_exporter::platform::{KeyKind, KeyTemplate, PlatformSettings, PlatformTokens, RedisStore, RedisTarget, Runner, Snapshot, StoreError, TokenError};
use wechat_exporter::simulator::platform::{self as simplat, INFO_PATH, LIST_PATH};
use wechat_exporter::simulator::{Fault, SimApp, Simulator};

struct Platform {
    sim: Simulator,
    redis: RedisServer,
    tokens: Arc<PlatformTokens>,
    client: Arc<ComponentClient>,
}

fn tokens_for(url: &str) -> Arc<PlatformTokens> {
    let store = RedisStore::new(RedisTarget::parse(url).expect("a Redis URL")).expect("a Redis store");
    Arc::new(PlatformTokens::new(
        store,
        COMPONENT,
        KeyTemplate::default_for(KeyKind::Component),
        KeyTemplate::default_for(KeyKind::Authorizer),
    ))
}

/// A platform with `n` authorized apps, and the exporter's side of it, driven directly.
async fn platform(n: usize, odd: bool) -> Platform {
    let PlatformWorld { sim, redis } = PlatformWorld::start(Vec::new(), n, odd).await;
    let tokens = tokens_for(&redis.url());
    let client = Arc::new(ComponentClient::new(Arc::from("acme"), COMPONENT, sim.wechat_client().unwrap(), tokens.clone()));
    Platform { sim, redis, tokens, client }
}

fn offsets(sim: &Simulator) -> Vec<(i64, i64)> {
    sim.calls(LIST_PATH)
        .iter()
        .map(|c| (c.body["offset"].as_i64().unwrap(), c.body["count"].as_i64().unwrap()))
        .collect()
}

fn all(_: &str) -> bool {
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn twelve_hundred_authorizers_over_three_pages() {
    let p = platform(1200, false).await;
    let before = p.redis.snapshot();
    let mut d = Discovery::default();
    let out = d.run(&p.client, &all).await.expect("discovery");
    assert_eq!(out.listed, 1200);
    assert_eq!(out.apps.len(), 1200);
    assert_eq!(out.learned, 1200);
    assert_eq!(out.unknown, 0);
    assert_eq!(offsets(&p.sim), vec![(0, 500), (500, 500), (1000, 500)], "three pages of at most 500");
    assert!(p.sim.calls(LIST_PATH).iter().all(|c| c.body["component_appid"] == COMPONENT));
    let info = p.sim.calls(INFO_PATH);
    assert_eq!(info.len(), 1200, "one api_get_authorizer_info per new app");
    let asked: std::collections::HashSet<&str> = info.iter().map(|c| c.body["authorizer_appid"].as_str().unwrap()).collect();
    assert_eq!(asked.len(), 1200);

    // A sample, exactly: the list's order, the kind from MiniProgramInfo, nick_name.
    let want = |appid: &str, account, nickname: &str| Authorizer { appid: appid.into(), account, nickname: nickname.into() };
    assert_eq!(*out.apps[0], want("wxauth0000000000", Account::Miniprogram, "商户00000"));
    assert_eq!(*out.apps[2], want("wxauth0000000002", Account::OfficialAccount, "商户00002"));
    assert_eq!(*out.apps[7], want("wxauth0000000007", Account::Miniprogram, "Ace \"Shop\" \\ 旗舰店"));
    assert_eq!(*out.apps[499], want("wxauth0000000499", Account::Miniprogram, "商户00499"));
    assert_eq!(*out.apps[500], want("wxauth0000000500", Account::OfficialAccount, "商户00500"));
    assert_eq!(*out.apps[1199], want("wxauth0000001199", Account::OfficialAccount, "商户01199"));
    let officials = out.apps.iter().filter(|a| a.account == Account::OfficialAccount).count();
    assert_eq!(officials, 400);

    // The next discovery lists again and asks nothing it knows.
    let again = d.run(&p.client, &all).await.expect("second discovery");
    assert_eq!(again.apps, out.apps);
    assert_eq!(again.learned, 0);
    assert_eq!(p.sim.calls(LIST_PATH).len(), 6);
    assert_eq!(p.sim.calls(INFO_PATH).len(), 1200);
    assert_eq!(p.client.telemetry.requests_to("api_get_authorizer_list"), 6);
    assert_eq!(p.client.telemetry.requests_to("api_get_authorizer_info"), 1200);

    assert!(p.sim.token_calls().is_empty(), "no token API is ever called: {:?}", p.sim.token_calls());
    assert_eq!(p.redis.snapshot(), before, "Redis is left exactly as it was");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shard_learns_only_its_own_apps() {
    let p = platform(40, false).await;
    let mine = |appid: &str| appid.ends_with('1');
    let out = Discovery::default().run(&p.client, &mine).await.unwrap();
    assert_eq!(out.listed, 40);
    let ids: Vec<&str> = out.apps.iter().map(|a| a.appid.as_str()).collect();
    assert_eq!(ids, vec!["wxauth0000000001", "wxauth0000000011", "wxauth0000000021", "wxauth0000000031"]);
    assert_eq!(p.sim.calls(INFO_PATH).len(), 4, "other shards' apps are not asked about");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_odd_platform_is_read_as_well() {
    // total_count and auth_time as strings, a null nick_name, errcode 0 alongside.
    let p = platform(501, true).await;
    p.sim.authorize(COMPONENT, SimApp::new("anon", "wxanon000000001", Account::Miniprogram), "");
    let out = Discovery::default().run(&p.client, &all).await.expect("discovery");
    assert_eq!(out.apps.len(), 502);
    assert_eq!(offsets(&p.sim), vec![(0, 500), (500, 500)]);
    let anon = out.apps.iter().find(|a| a.appid == "wxanon000000001").unwrap();
    assert_eq!(anon.nickname, "");
    assert_eq!(anon.account, Account::Miniprogram);
}

#[tokio::test(flavor = "multi_thread")]
async fn authorizers_come_and_go() {
    let p = platform(3, false).await;
    let mut d = Discovery::default();
    let ids = |o: &discovery::Outcome| o.apps.iter().map(|a| a.appid.clone()).collect::<Vec<_>>();
    let first = d.run(&p.client, &all).await.unwrap();
    assert_eq!(ids(&first), vec!["wxauth0000000000", "wxauth0000000001", "wxauth0000000002"]);

    let (newcomer, nick) = authorizer(3);
    p.sim.authorize(COMPONENT, newcomer, &nick);
    p.sim.deauthorize(COMPONENT, "wxauth0000000000");
    let second = d.run(&p.client, &all).await.unwrap();
    assert_eq!(ids(&second), vec!["wxauth0000000001", "wxauth0000000002", "wxauth0000000003"]);
    assert_eq!(second.learned, 1);
    let info: Vec<String> = p.sim.calls(INFO_PATH).iter().map(|c| c.body["authorizer_appid"].as_str().unwrap().to_string()).collect();
    assert_eq!(info.len(), 4, "only the newcomer is asked about: {info:?}");
    assert_eq!(info[3], "wxauth0000000003");

    // One that comes back is asked about again: its kind or name may have changed.
    let (back, _) = authorizer(0);
    p.sim.authorize(COMPONENT, back, "Renamed");
    let third = d.run(&p.client, &all).await.unwrap();
    assert_eq!(third.apps.last().map(|a| a.nickname.as_str()), Some("Renamed"));
    assert_eq!(p.sim.calls(INFO_PATH).len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_list_changes_nothing_and_a_failing_info_only_delays_one_app() {
    let p = platform(600, false).await;
    let mut d = Discovery::default();
    // A page fails: the whole discovery fails, nothing is half-applied.
    p.sim.inject(COMPONENT, LIST_PATH, Fault::Errcode(-1));
    let e = d.run(&p.client, &all).await.unwrap_err();
    assert_eq!(e.reason(), "errcode_-1");
    assert_eq!(p.sim.calls(INFO_PATH).len(), 0);
    p.sim.inject(COMPONENT, INFO_PATH, Fault::Http(502));
    let out = d.run(&p.client, &all).await.unwrap();
    assert_eq!(out.apps.len(), 599, "the app whose info failed waits for the next discovery");
    assert_eq!(out.unknown, 1);
    let out = d.run(&p.client, &all).await.unwrap();
    assert_eq!(out.apps.len(), 600);
    assert_eq!(out.learned, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_component_token_is_read_again_and_never_refreshed() {
    let p = platform(2, false).await;
    let mut d = Discovery::default();
    d.run(&p.client, &all).await.unwrap();

    // WeChat kills the component token; Redis still holds it (the platform has not
    // refreshed yet): one retry after reading Redis again, then token_unavailable.
    p.sim.inject(COMPONENT, LIST_PATH, Fault::Errcode(40001));
    let e = d.run(&p.client, &all).await.unwrap_err();
    assert_eq!(e.reason(), "token_unavailable", "{e}");
    assert!(matches!(e, discovery::DiscoveryError::Token(TokenError::Refused { .. })), "{e:?}");
    assert_eq!(p.sim.calls(LIST_PATH).len(), 3, "the first discovery, the refused call, one retry");
    // While Redis holds the refused token, it is not sent again.
    let e = d.run(&p.client, &all).await.unwrap_err();
    assert_eq!(e.reason(), "token_unavailable");
    assert_eq!(p.sim.calls(LIST_PATH).len(), 3);

    // The platform's service refreshes: a new token in WeChat and in Redis.
    let fresh = simplat::new_token("COMPONENT");
    p.sim.set_component_token(COMPONENT, &fresh);
    p.redis.set(&component_key(), &fresh);
    let out = d.run(&p.client, &all).await.expect("the new token is read and used");
    assert_eq!(out.apps.len(), 2);
    assert_eq!(out.learned, 0, "the last list is kept through the failures");

    // A missing key: token_unavailable, and no call to WeChat at all.
    p.redis.del(&component_key());
    let calls = p.sim.calls(LIST_PATH).len();
    let e = d.run(&p.client, &all).await.unwrap_err();
    assert!(matches!(e, discovery::DiscoveryError::Token(TokenError::Missing { .. })), "{e:?}");
    assert_eq!(p.sim.calls(LIST_PATH).len(), calls);
    let failures = p.client.telemetry.samples();
    let unavailable: f64 = failures
        .iter()
        .filter(|s| s.labels.iter().any(|(k, v)| k == "reason" && v == "token_unavailable"))
        .map(|s| s.value)
        .sum();
    assert_eq!(unavailable, 3.0);
    assert!(p.sim.token_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn authorizer_tokens_are_read_in_batches_and_reread_when_refused() {
    let p = platform(1200, false).await;
    let appids: Vec<String> = (0..1200).map(|i| authorizer(i).0.appid).collect();
    p.tokens.retain(appids.iter().map(String::as_str));
    let before = p.redis.command_calls();
    let (read, missing) = p.tokens.refresh().await.expect("one refresh");
    assert_eq!((read, missing), (1200, 0));
    let after = p.redis.command_calls();
    let delta = |c: &str| after.get(c).copied().unwrap_or(0) - before.get(c).copied().unwrap_or(0);
    assert_eq!(delta("mget"), 3, "1,200 tokens in three MGETs of 500");
    // Cached: no Redis command for a token that works.
    let t0 = p.tokens.authorizer(&appids[0]).await.unwrap();
    p.tokens.authorizer(&appids[0]).await.unwrap();
    assert_eq!(p.redis.command_calls().get("get").copied().unwrap_or(0), before.get("get").copied().unwrap_or(0));

    // The platform rotates the token: a re-read finds the new one.
    let fresh = simplat::new_token("AUTHORIZER");
    p.redis.set(&authorizer_key(&appids[0]), &fresh);
    let t1 = p.tokens.reread(&appids[0]).await.unwrap();
    assert_ne!(t0, t1);
    assert_eq!(t1.expose(), fresh);
    assert_eq!(p.tokens.authorizer(&appids[0]).await.unwrap(), t1, "and keeps it");

    // Refused twice with no newer token: refused at once, until Redis changes.
    let e = p.tokens.refused(&appids[0], &t1);
    assert!(matches!(e, TokenError::Refused { .. }));
    assert!(matches!(p.tokens.authorizer(&appids[0]).await, Err(TokenError::Refused { .. })));
    p.tokens.refresh().await.unwrap();
    assert!(matches!(p.tokens.authorizer(&appids[0]).await, Err(TokenError::Refused { .. })), "a refresh keeps the refusal");
    let newer = simplat::new_token("AUTHORIZER");
    p.redis.set(&authorizer_key(&appids[0]), &newer);
    assert_eq!(p.tokens.authorizer(&appids[0]).await.unwrap().expose(), newer);

    // A missing key is that app's problem alone.
    p.redis.del(&authorizer_key(&appids[1]));
    assert_eq!(p.tokens.refresh().await.unwrap(), (1200, 1));
    let e = p.tokens.authorizer(&appids[1]).await.unwrap_err();
    assert_eq!(e.to_string(), format!("no token in Redis under {}", authorizer_key(&appids[1])));
    assert!(p.tokens.authorizer(&appids[2]).await.is_ok());
    assert!(p.sim.token_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_and_back() {
    let mut p = platform(3, false).await;
    let appid = authorizer(0).0.appid;
    p.tokens.retain([appid.as_str()]);
    let token = p.tokens.authorizer(&appid).await.unwrap();

    p.redis.stop();
    let e = p.tokens.refresh().await.unwrap_err();
    assert!(matches!(e, StoreError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("redis://127.0.0.1:{}/0", p.redis.port)), "{e}");
    // While Redis is down a token is not trusted: the app shows it, up 0.
    let e = p.tokens.authorizer(&appid).await.unwrap_err();
    assert!(matches!(e, TokenError::Redis(StoreError::Unreachable { .. })), "{e:?}");
    assert!(p.tokens.redis_down().is_some());
    let e = Discovery::default().run(&p.client, &all).await.unwrap_err();
    assert_eq!(e.reason(), "token_unavailable");

    // Back, with its keys: the same store recovers by itself.
    p.redis.restart();
    let mut back = None;
    for _ in 0..50 {
        if let Ok(t) = p.tokens.authorizer(&appid).await {
            back = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(back, Some(token));
    assert!(p.tokens.redis_down().is_none());
    assert_eq!(Discovery::default().run(&p.client, &all).await.unwrap().apps.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_user_with_a_password_is_enough() {
    let p = platform(2, false).await;
    p.redis.add_reader("wechat-exporter", "p@ss:w0rd/x");
    let url = format!("redis://wechat-exporter:p%40ss%3Aw0rd%2Fx@127.0.0.1:{}/0", p.redis.port);
    let tokens = tokens_for(&url);
    let client = Arc::new(ComponentClient::new(Arc::from("acme"), COMPONENT, p.sim.wechat_client().unwrap(), tokens.clone()));
    let out = Discovery::default().run(&client, &all).await.expect("GET is allowed");
    tokens.retain(out.apps.iter().map(|a| a.appid.as_str()));
    assert_eq!(tokens.refresh().await.expect("MGET is allowed"), (2, 0));

    // A wrong password: refused, and the error names neither password.
    let wrong = format!("redis://wechat-exporter:n0tit%40all@127.0.0.1:{}/0", p.redis.port);
    let e = tokens_for(&wrong).component().await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains("n0tit") && !text.contains("w0rd"), "{text}");
    assert!(text.contains(&format!("redis://127.0.0.1:{}/0", p.redis.port)), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_sees_every_change() {
    // The snapshot used above must notice a changed value, a new key and a TTL.
    let redis = RedisServer::start();
    redis.set("a", "1");
    let s0 = redis.snapshot();
    redis.set("a", "2");
    assert_ne!(redis.snapshot(), s0);
    redis.set("a", "1");
    assert_eq!(redis.snapshot(), s0);
    redis.set("b", "1");
    assert_ne!(redis.snapshot(), s0);
    redis.del("b");
    let _: () = redis::cmd("EXPIRE").arg("a").arg(1000).query(&mut redis.admin()).unwrap();
    let s1: BTreeMap<_, _> = redis.snapshot();
    assert_ne!(s1, s0);
}

/// Waits for a snapshot that satisfies `ok`.
async fn snapshot_where(rx: &mut tokio::sync::watch::Receiver<Snapshot>, what: &str, ok: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let found = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| ok(s))).await.map(|r| r.map(|s| s.clone()));
    match found {
        Ok(Ok(s)) => s,
        _ => panic!("no snapshot with {what}: last {:?}", rx.borrow()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_keeps_its_list_through_an_outage_and_recovers_by_itself() {
    let PlatformWorld { sim, mut redis } = PlatformWorld::start(Vec::new(), 3, false).await;
    let settings = PlatformSettings {
        name: Arc::from("acme"),
        component_appid: COMPONENT.into(),
        redis: RedisTarget::parse(&redis.url()).unwrap(),
        component_key: KeyTemplate::default_for(KeyKind::Component),
        authorizer_key: KeyTemplate::default_for(KeyKind::Authorizer),
        discover: Duration::from_secs(1),
    };
    let runner = Runner::start(settings, sim.wechat_client().unwrap(), Arc::new(|_: &str| true), Arc::new(chrono::Utc::now)).unwrap();
    let mut rx = runner.watch();
    let count = |s: &Snapshot| s.apps.as_ref().map_or(0, |a| a.len());
    let first = snapshot_where(&mut rx, "three apps", |s| s.up && count(s) == 3).await;
    assert!(first.last_success.is_some());
    // The tokens were read with the discovery: a poll needs no Redis command.
    let gets = redis.command_calls().get("get").copied().unwrap_or(0);
    runner.tokens.authorizer(&authorizer(0).0.appid).await.unwrap();
    assert_eq!(redis.command_calls().get("get").copied().unwrap_or(0), gets);

    sim.deauthorize(COMPONENT, &authorizer(2).0.appid);
    snapshot_where(&mut rx, "two apps", |s| s.up && count(s) == 2).await;

    redis.stop();
    let down = snapshot_where(&mut rx, "a failed discovery", |s| !s.up).await;
    assert_eq!(count(&down), 2, "the last list stays");
    assert!(down.last_error.as_deref().is_some_and(|e| e.contains("unreachable")), "{down:?}");
    redis.restart();
    let back = snapshot_where(&mut rx, "recovery", |s| s.up).await;
    assert_eq!(count(&back), 2);
    assert!(sim.token_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn rediss_with_a_private_ca() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let redis = RedisServer::start_tls(&ck.cert.pem(), &ck.signing_key.serialize_pem());
    let tls_port = redis.tls_port.unwrap();
    redis.add_reader("wechat-exporter", "tls-pa55");
    redis.set(&authorizer_key("wxtls"), "tok-over-tls");
    let url = format!("rediss://wechat-exporter:tls-pa55@localhost:{tls_port}/0");
    let store = |ca: Option<&[u8]>| {
        let target = RedisTarget::with_ca(&url, ca).expect("a rediss URL");
        Arc::new(PlatformTokens::new(
            RedisStore::new(target).unwrap(),
            COMPONENT,
            KeyTemplate::default_for(KeyKind::Component),
            KeyTemplate::default_for(KeyKind::Authorizer),
        ))
    };
    let trusted = store(Some(ck.cert.pem().as_bytes()));
    assert_eq!(trusted.authorizer("wxtls").await.expect("TLS with the private CA").expose(), "tok-over-tls");
    // The public roots do not know this CA: refused, and the error shows no password.
    let e = store(None).authorizer("wxtls").await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(!text.contains("tls-pa55"), "{text}");
    assert!(text.contains(&format!("rediss://localhost:{tls_port}/0")), "{text}");
    assert!(RedisTarget::with_ca(&redis.url(), Some(ck.cert.pem().as_bytes())).unwrap_err().contains("rediss://"));
    assert!(RedisTarget::with_ca(&url, Some(b"not a certificate")).unwrap_err().contains("not a PEM certificate"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discovery_reads_the_component_token_once() {
    let p = platform(700, false).await;
    let gets = || p.redis.command_calls().get("get").copied().unwrap_or(0);
    let before = gets();
    let out = Discovery::default().run(&p.client, &all).await.unwrap();
    assert_eq!(out.apps.len(), 700);
    assert_eq!(gets() - before, 1, "two list pages and 700 info calls on one GET");
}
