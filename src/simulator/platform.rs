//! Third-party platforms in the simulator: the two component APIs the exporter
//! calls (`api_get_authorizer_list`, `api_get_authorizer_info`), and the
//! authorizer_access_tokens a platform holds.
//!
//! As on WeChat, a platform's tokens are made by the platform's own service, not by
//! the exporter: a test plays that service, setting a component token and each
//! authorized app's token here and writing the same values to Redis. The data APIs
//! then accept an authorizer token for its app like one the simulator issued. The
//! two token APIs (`api_component_token`, `api_authorizer_token`) are recorded and
//! refused, so a test can show the exporter never calls them.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::response::Response;
use serde_json::{json, Value};

use super::{errcode, fault, record, reply, SimApp, SimState};
use crate::collectors::Account;

pub const LIST_PATH: &str = "/cgi-bin/component/api_get_authorizer_list";
pub const INFO_PATH: &str = "/cgi-bin/component/api_get_authorizer_info";
pub const COMPONENT_TOKEN_PATH: &str = "/cgi-bin/component/api_component_token";
pub const AUTHORIZER_TOKEN_PATH: &str = "/cgi-bin/component/api_authorizer_token";
/// Every WeChat API that makes a token: an exporter reading a platform's tokens calls none.
pub const TOKEN_PATHS: [&str; 4] = ["/cgi-bin/token", "/cgi-bin/stable_token", COMPONENT_TOKEN_PATH, AUTHORIZER_TOKEN_PATH];

/// The most authorizers one list call returns.
const MAX_COUNT: i64 = 500;

/// A platform and the apps that authorized it.
#[derive(Default)]
struct SimPlatform {
    component_token: Option<String>,
    /// In the order they authorized, as the list returns them.
    authorizers: Vec<String>,
    /// Numbers as strings and `null`s where WeChat sometimes sends them.
    odd: bool,
}

/// An authorized app: its data (answered like any app's) and what the info API says.
#[derive(Clone)]
struct Authorized {
    app: SimApp,
    nickname: String,
    auth_time: i64,
}

#[derive(Default)]
struct Inner {
    platforms: HashMap<String, SimPlatform>,
    apps: HashMap<String, Authorized>,
    /// authorizer_access_token → appid, as the platform's service set them.
    tokens: HashMap<String, String>,
}

/// The simulator's platforms.
#[derive(Default)]
pub struct Platforms {
    inner: Mutex<Inner>,
}

impl Platforms {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The app an authorizer token belongs to.
    pub(super) fn check_token(&self, token: &str) -> Option<String> {
        self.lock().tokens.get(token).cloned()
    }

    /// An authorized app, for the data APIs.
    pub(super) fn app(&self, appid: &str) -> Option<SimApp> {
        self.lock().apps.get(appid).map(|a| a.app.clone())
    }

    /// Drops an app's authorizer tokens (40001 and friends kill the token in use).
    pub(super) fn revoke(&self, appid: &str) {
        self.lock().tokens.retain(|_, a| a != appid);
    }
}

/// A random token in the simulator's style, for tests playing the platform's service.
pub fn new_token(kind: &str) -> String {
    format!("SIM{kind}_{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The refresh_token the list hands out for an app: the platform's secret, which
/// an exporter must never show (tests look for it in logs).
pub fn refresh_token(appid: &str) -> String {
    format!("refreshtoken@@@{:016x}", super::data::hash(&[appid, "refresh"]))
}

/// The nickname of a generated authorizer (benchmarks, large tests).
pub fn generated_nickname(i: usize) -> String {
    format!("商户{i:05}")
}

impl super::Simulator {
    /// Adds a platform, with `component_token` as its component_access_token.
    pub fn add_platform(&self, component_appid: &str, component_token: &str, odd: bool) {
        let mut inner = self.state.platforms.lock();
        let p = inner.platforms.entry(component_appid.to_string()).or_default();
        p.component_token = Some(component_token.to_string());
        p.odd = odd;
        self.state.note_issued(component_token);
    }

    /// The platform's service got a new component_access_token; the old one dies.
    pub fn set_component_token(&self, component_appid: &str, token: &str) {
        let mut inner = self.state.platforms.lock();
        if let Some(p) = inner.platforms.get_mut(component_appid) {
            p.component_token = Some(token.to_string());
        }
        self.state.note_issued(token);
    }

    /// `app` authorizes the platform (it must not be one of the simulator's own apps).
    pub fn authorize(&self, component_appid: &str, app: SimApp, nickname: &str) {
        let now = self.state.now().timestamp();
        let mut inner = self.state.platforms.lock();
        let appid = app.appid.clone();
        if let Some(p) = inner.platforms.get_mut(component_appid)
            && !p.authorizers.contains(&appid)
        {
            p.authorizers.push(appid.clone());
        }
        inner.apps.insert(appid, Authorized { app, nickname: nickname.to_string(), auth_time: now });
    }

    /// The app's owner revokes the authorization: it leaves the list, its tokens die.
    pub fn deauthorize(&self, component_appid: &str, appid: &str) {
        let mut inner = self.state.platforms.lock();
        if let Some(p) = inner.platforms.get_mut(component_appid) {
            p.authorizers.retain(|a| a != appid);
        }
        inner.apps.remove(appid);
        inner.tokens.retain(|_, a| a != appid);
    }

    /// The platform's service refreshed an app's authorizer_access_token: `token`
    /// is now the app's one valid token.
    pub fn set_authorizer_token(&self, appid: &str, token: &str) {
        let mut inner = self.state.platforms.lock();
        inner.tokens.retain(|_, a| a != appid);
        inner.tokens.insert(token.to_string(), appid.to_string());
        drop(inner);
        self.state.note_issued(token);
    }

    /// A shared WeChat client pointed at this simulator, for tests that drive a
    /// platform's discovery or tokens directly.
    pub fn wechat_client(&self) -> Result<std::sync::Arc<crate::wechat::WechatClient>, crate::wechat::WechatError> {
        use crate::wechat::{ClientSettings, WechatClient};
        let settings = ClientSettings { base_url: self.base_url(), timeout: std::time::Duration::from_secs(5), ..ClientSettings::default() };
        Ok(std::sync::Arc::new(WechatClient::new(settings, std::sync::Arc::new(crate::telemetry::Live::default()))?))
    }

    /// Every call to an API that makes tokens, whatever the answer.
    pub fn token_calls(&self) -> Vec<super::Call> {
        TOKEN_PATHS.iter().flat_map(|p| self.calls(p)).collect()
    }
}

/// Answers a `/cgi-bin/component/…` call; `None` for any other path.
pub(super) async fn handle(st: &SimState, path: &str, query: &HashMap<String, String>, req: &Value) -> Option<Response> {
    if !path.starts_with("/cgi-bin/component/") {
        return None;
    }
    let component_appid = req.get("component_appid").and_then(Value::as_str).unwrap_or_default().to_string();
    record(st, path, Some(&component_appid), req);
    if path == COMPONENT_TOKEN_PATH || path == AUTHORIZER_TOKEN_PATH {
        // The real APIs want the component's secret and the ticket WeChat pushes to
        // the platform, which an exporter never has.
        return Some(reply(errcode(61006, "component ticket is invalid")));
    }
    let answer = {
        let inner = st.platforms.lock();
        check_component(&inner, query.get("component_access_token").map(String::as_str), &component_appid)
    };
    if let Err(e) = answer {
        return Some(reply(e));
    }
    if let Some(f) = st.take_fault(&component_appid, path) {
        if let super::Fault::Errcode(code) = f
            && crate::wechat::error::TOKEN_STALE.contains(&code)
        {
            let mut inner = st.platforms.lock();
            if let Some(p) = inner.platforms.get_mut(&component_appid) {
                p.component_token = None;
            }
        }
        return Some(fault(f).await);
    }
    let inner = st.platforms.lock();
    let answer = match path {
        LIST_PATH => list(&inner, &component_appid, req),
        INFO_PATH => info(&inner, &component_appid, req),
        _ => return Some(reply(errcode(48001, "api unauthorized"))),
    };
    Some(reply(answer))
}

fn check_component(inner: &Inner, token: Option<&str>, component_appid: &str) -> Result<(), Value> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(errcode(41018, "missing component_access_token"));
    };
    let owner = inner.platforms.iter().find(|(_, p)| p.component_token.as_deref() == Some(token));
    match owner {
        None => Err(errcode(40001, "invalid credential, access_token is invalid or not latest")),
        Some((id, _)) if id != component_appid => Err(errcode(40013, "invalid appid: component_appid does not match the token")),
        Some(_) => Ok(()),
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    crate::wechat::json::value_i64(v).ok().flatten()
}

fn list(inner: &Inner, component_appid: &str, req: &Value) -> Value {
    let Some(p) = inner.platforms.get(component_appid) else {
        return errcode(40013, "invalid appid");
    };
    let offset = int(req.get("offset")).unwrap_or(0);
    let count = int(req.get("count")).unwrap_or(0);
    if offset < 0 || !(1..=MAX_COUNT).contains(&count) {
        return errcode(40097, "invalid args: count must be 1..=500 and offset at least 0");
    }
    let total = p.authorizers.len();
    let page: Vec<Value> = p
        .authorizers
        .iter()
        .skip(offset as usize)
        .take(count as usize)
        .map(|appid| {
            let auth_time = inner.apps.get(appid).map_or(0, |a| a.auth_time);
            if p.odd {
                json!({"authorizer_appid": appid, "refresh_token": refresh_token(appid), "auth_time": auth_time.to_string()})
            } else {
                json!({"authorizer_appid": appid, "refresh_token": refresh_token(appid), "auth_time": auth_time})
            }
        })
        .collect();
    if p.odd {
        json!({"errcode": 0, "errmsg": "ok", "total_count": total.to_string(), "list": page})
    } else {
        json!({"total_count": total, "list": page})
    }
}

fn info(inner: &Inner, component_appid: &str, req: &Value) -> Value {
    let appid = req.get("authorizer_appid").and_then(Value::as_str).unwrap_or_default();
    let listed = inner.platforms.get(component_appid).is_some_and(|p| p.authorizers.iter().any(|a| a == appid));
    let Some(a) = inner.apps.get(appid).filter(|_| listed) else {
        return errcode(61003, "component is not authorized by this account");
    };
    let odd = inner.platforms.get(component_appid).is_some_and(|p| p.odd);
    let user_name = format!("gh_{:012x}", super::data::hash(&[appid, "gh"]) & 0xffff_ffff_ffff);
    let mut info = json!({
        "nick_name": a.nickname,
        "head_img": format!("http://wx.qlogo.cn/mmopen/{appid}/0"),
        "service_type_info": {"id": if odd { json!("2") } else { json!(2) }},
        "verify_type_info": {"id": 0},
        "user_name": user_name,
        "principal_name": "模拟科技有限公司",
        "alias": "",
        "business_info": {"open_store": 0, "open_scan": 0, "open_pay": 0, "open_card": 0, "open_shake": 0},
        "qrcode_url": format!("http://mmbiz.qpic.cn/mmbiz_jpg/{appid}/0"),
    });
    if a.app.account == Account::Miniprogram {
        info["MiniProgramInfo"] = json!({
            "network": {"RequestDomain": ["https://api.example.com"], "WsRequestDomain": [], "UploadDomain": [], "DownloadDomain": []},
            "categories": [{"first": "工具", "second": "效率"}],
            "visit_status": 0,
        });
        info["service_type_info"] = json!({"id": 0});
    }
    if odd && a.nickname.is_empty() {
        info["nick_name"] = Value::Null;
    }
    json!({
        "authorizer_info": info,
        "authorization_info": {
            "authorizer_appid": appid,
            "authorizer_refresh_token": refresh_token(appid),
            "func_info": [{"funcscope_category": {"id": 1}}],
        },
    })
}

/// The demo's platform: fixed, documented tokens (nothing secret: only the demo's
/// simulator accepts them), so docs/platform.md can walk a new user through polling
/// it with a local redis-server, the user playing the platform's token service.
pub const DEMO_COMPONENT_APPID: &str = "wxdemoplatform01";
pub const DEMO_COMPONENT_TOKEN: &str = "demo-component-token";

/// The demo platform's authorized apps: (appid, kind, nickname).
pub const DEMO_AUTHORIZERS: [(&str, Account, &str); 4] = [
    ("wxdemoauth000001", Account::Miniprogram, "Demo Bakery"),
    ("wxdemoauth000002", Account::Miniprogram, "Demo Books"),
    ("wxdemoauth000003", Account::OfficialAccount, "Demo News"),
    ("wxdemoauth000004", Account::Miniprogram, "Demo Travel"),
];

/// The token the demo accepts for an authorized app.
pub fn demo_token(appid: &str) -> String {
    format!("demo-token-{appid}")
}

/// Sets up the demo platform in `sim`.
pub fn install_demo(sim: &super::Simulator) {
    sim.add_platform(DEMO_COMPONENT_APPID, DEMO_COMPONENT_TOKEN, false);
    for (appid, account, nickname) in DEMO_AUTHORIZERS {
        let name = appid.trim_start_matches("wx").to_string();
        sim.set_authorizer_token(appid, &demo_token(appid));
        sim.authorize(DEMO_COMPONENT_APPID, SimApp::new(&name, appid, account), nickname);
    }
}
