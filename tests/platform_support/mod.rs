//! What the platform tests share: a real redis-server, and a simulated third-party
//! platform whose tokens sit in that Redis as the platform's own service keeps them.
#![allow(dead_code)]

pub mod redis_server;

use redis_server::RedisServer;
use wechat_exporter::collectors::Account;
use wechat_exporter::simulator::platform as simplat;
use wechat_exporter::simulator::{Options, SimApp, Simulator};

pub const COMPONENT: &str = "wxcomponent00000001";

/// WxJava's keys, written out rather than taken from the exporter, so a change to
/// its defaults shows here.
pub fn component_key() -> String {
    format!("wechat_component_access_token:{COMPONENT}")
}

pub fn authorizer_key(appid: &str) -> String {
    format!("wechat_authorizer_access_token:{COMPONENT}:{appid}")
}

/// The `i`-th authorized app: every third an official account, one with a
/// nickname that needs escaping.
pub fn authorizer(i: usize) -> (SimApp, String) {
    let account = if i % 3 == 2 { Account::OfficialAccount } else { Account::Miniprogram };
    let app = SimApp::new(&format!("auth{i:05}"), &format!("wxauth{i:010}"), account);
    let nickname = if i == 7 { "Ace \"Shop\" \\ 旗舰店".to_string() } else { simplat::generated_nickname(i) };
    (app, nickname)
}

/// A simulator holding `apps` of its own and a platform with `n` authorized apps,
/// each with a token in the simulator and in Redis.
pub struct PlatformWorld {
    pub sim: Simulator,
    pub redis: RedisServer,
}

impl PlatformWorld {
    pub async fn start(apps: Vec<SimApp>, n: usize, odd: bool) -> PlatformWorld {
        let mut opts = Options::new(apps);
        opts.record_calls = true;
        let sim = Simulator::start(opts).await.expect("simulator");
        let redis = RedisServer::start();
        let world = PlatformWorld { sim, redis };
        let component_token = simplat::new_token("COMPONENT");
        world.sim.add_platform(COMPONENT, &component_token, odd);
        world.redis.set(&component_key(), &component_token);
        let mut pairs = Vec::new();
        for i in 0..n {
            let (app, nickname) = authorizer(i);
            let token = simplat::new_token("AUTHORIZER");
            world.sim.set_authorizer_token(&app.appid, &token);
            pairs.push((authorizer_key(&app.appid), token));
            world.sim.authorize(COMPONENT, app, &nickname);
        }
        world.redis.set_many(&pairs);
        world
    }

    /// The platform's service authorizes one more app: a token in WeChat and in Redis.
    pub fn authorize(&self, app: SimApp, nickname: &str) {
        let token = simplat::new_token("AUTHORIZER");
        self.sim.set_authorizer_token(&app.appid, &token);
        self.redis.set(&authorizer_key(&app.appid), &token);
        self.sim.authorize(COMPONENT, app, nickname);
    }

    /// The platform's service refreshes an app's token: the old one dies in WeChat,
    /// the new one is written to Redis. Returns the new one.
    pub fn rotate(&self, appid: &str) -> String {
        let token = simplat::new_token("AUTHORIZER");
        self.sim.set_authorizer_token(appid, &token);
        self.redis.set(&authorizer_key(appid), &token);
        token
    }

    /// The exporter's `platforms:` entry for this platform (indented for a config).
    pub fn platform_entry(&self, redis_url: &str, discover: &str, collectors: &str) -> String {
        format!(
            "  - name: acme\n    component_appid: {COMPONENT}\n    redis: {redis_url}\n    discover: {discover}\n{collectors}"
        )
    }
}
