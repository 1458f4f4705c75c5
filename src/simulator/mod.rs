//! A WeChat API simulator on loopback: the one stand-in for WeChat, used by
//! `--demo` and by the tests. It issues and checks tokens as WeChat does,
//! applies WeChat's date rules and error codes, and can be told to misbehave
//! (an errcode, an HTTP error page, a hang, a broken body) for one call.

pub mod data;
pub mod platform;

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::collectors::{Account, COLLECTORS, Route};
use crate::cst;

/// An app the simulator knows.
#[derive(Clone, Debug)]
pub struct SimApp {
    pub name: String,
    pub appid: String,
    pub secret: String,
    pub account: Account,
    /// Sends numbers as strings and leaves fields out, as some real answers do.
    pub odd: bool,
    /// CloudBase SMS-marketing activities getStatistics knows; any other is 10011.
    pub sms: Vec<SmsActivity>,
    /// Nothing happens: every daily API answers every day with an empty list
    /// (getusercumulate aside: the followers are still there).
    pub quiet: bool,
    /// Publishes yesterday late, from this time of day (UTC+8) on, instead of
    /// from the simulator's `publish_hour`.
    pub publish_at: Option<Duration>,
}

/// A CloudBase SMS-marketing activity: its env, its id and its channels.
#[derive(Clone, Debug, PartialEq)]
pub struct SmsActivity {
    pub env_id: String,
    pub activity_id: String,
    pub channels: Vec<String>,
}

impl SmsActivity {
    pub fn new(env_id: &str, activity_id: &str, channels: &[&str]) -> SmsActivity {
        SmsActivity {
            env_id: env_id.into(),
            activity_id: activity_id.into(),
            channels: channels.iter().map(|c| c.to_string()).collect(),
        }
    }
}

impl SimApp {
    pub fn new(name: &str, appid: &str, account: Account) -> SimApp {
        SimApp {
            name: name.into(),
            appid: appid.into(),
            secret: format!("simsecret-{:016x}", fastrand::u64(..)),
            account,
            odd: false,
            sms: Vec::new(),
            quiet: false,
            publish_at: None,
        }
    }

    /// The app's entry in an exporter config's `apps:` list, collectors left out.
    pub fn config_entry(&self) -> String {
        format!(
            "  - name: {}\n    appid: {}\n    account: {}\n    secret: {}\n",
            self.name,
            self.appid,
            self.account.as_str(),
            self.secret
        )
    }

    /// The `i`-th of any number of generated mini programs, for benchmarks: every
    /// tenth one answers oddly (numbers as strings, fields left out).
    pub fn generated(i: usize) -> SimApp {
        let mut app = SimApp::new(&format!("app{i:05}"), &format!("wxgen{i:011}"), Account::Miniprogram);
        app.odd = i % 10 == 9;
        app
    }
}

/// A misbehaviour for the next call of one API of one app.
#[derive(Clone, Debug)]
pub enum Fault {
    /// `{"errcode": n}`; 40001, 42001 and 40014 also invalidate the caller's token.
    Errcode(i64),
    /// An HTTP status with an HTML body, as a gateway sends.
    Http(u16),
    /// No answer until the client gives up.
    Hang,
    /// This body, as it is.
    Body(String),
    /// The connection breaks halfway through the answer.
    Reset,
    /// An HTTP redirect (302, 307, ...) to `location`, as a hijacked or misconfigured
    /// gateway might send.
    Redirect { status: u16, location: String },
    /// A valid JSON answer padded to `bytes`, streamed; with a Content-Length when
    /// `declared`, chunked otherwise.
    Huge { bytes: usize, declared: bool },
}

pub struct Options {
    pub apps: Vec<SimApp>,
    /// Hour of the day (UTC+8) from which yesterday's daily data is there.
    pub publish_hour: u32,
    pub token_ttl: Duration,
    pub clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    /// Keep every call for tests to read. A long benchmark turns this off, or the
    /// simulator's memory would grow with every call.
    pub record_calls: bool,
}

impl Options {
    pub fn new(apps: Vec<SimApp>) -> Options {
        Options { apps, publish_hour: 0, token_ttl: Duration::from_secs(7200), clock: Arc::new(Utc::now), record_calls: true }
    }
}

struct Token {
    appid: String,
    expires: DateTime<Utc>,
}

/// One call the simulator saw.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub appid: Option<String>,
    pub body: Value,
}

pub struct SimState {
    apps: HashMap<String, SimApp>,
    publish_hour: u32,
    token_ttl: Duration,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    record_calls: bool,
    tokens: Mutex<HashMap<String, Token>>,
    /// Every token ever issued, for leak tests.
    issued: Mutex<Vec<String>>,
    calls: Mutex<Vec<Call>>,
    faults: Mutex<HashMap<(String, String), VecDeque<Fault>>>,
    /// What the collectors' answers keep between calls, by type.
    states: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// Every collector's answers, by API path.
    routes: HashMap<&'static str, &'static Route>,
    platforms: platform::Platforms,
}

impl SimState {
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Yesterday in UTC+8, the newest day the datacube APIs accept.
    pub fn yesterday(&self) -> NaiveDate {
        cst::yesterday(self.now())
    }

    /// Whether `app`'s daily data of `day` is there yet.
    pub fn published(&self, app: &SimApp, day: NaiveDate) -> bool {
        let now = self.now();
        let from = app.publish_at.map_or(u64::from(self.publish_hour) * 3600, |t| t.as_secs());
        let since_midnight = u64::from(now.with_timezone(&cst::offset()).num_seconds_from_midnight());
        day < self.yesterday() || (day == self.yesterday() && since_midnight >= from)
    }

    /// Whether `app` has activity to report for `day`: published, and not quiet.
    pub fn active(&self, app: &SimApp, day: NaiveDate) -> bool {
        !app.quiet && self.published(app, day)
    }

    /// The state of type `T` a collector's answers keep.
    pub fn state<T: Any>(&self) -> Option<&T> {
        self.states.get(&TypeId::of::<T>()).and_then(|s| s.downcast_ref())
    }

    fn app(&self, appid: &str) -> Option<&SimApp> {
        self.apps.get(appid)
    }

    fn issue(&self, appid: &str, reuse: bool) -> (String, i64) {
        let now = self.now();
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if reuse
            && let Some((t, tok)) = tokens.iter().find(|(_, t)| t.appid == appid && t.expires > now) {
                return (t.clone(), (tok.expires - now).num_seconds());
            }
        // A new token replaces every older one of the app, as WeChat's do.
        tokens.retain(|_, t| t.appid != appid);
        let token = format!("SIMTOKEN_{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let ttl = self.token_ttl.as_secs() as i64;
        tokens.insert(token.clone(), Token { appid: appid.into(), expires: now + chrono::Duration::seconds(ttl) });
        self.issued.lock().unwrap_or_else(|e| e.into_inner()).push(token.clone());
        (token, ttl)
    }

    fn check_token(&self, token: Option<&str>) -> Result<String, Value> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(errcode(41001, "access_token missing"));
        };
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match tokens.get(token) {
            // A platform's authorizer token, set by the platform's service (a test).
            None if let Some(appid) = self.platforms.check_token(token) => Ok(appid),
            None => Err(errcode(40001, "invalid credential, access_token is invalid or not latest")),
            Some(t) if t.expires <= self.now() => Err(errcode(42001, "access_token expired")),
            Some(t) => Ok(t.appid.clone()),
        }
    }

    fn revoke_tokens(&self, appid: &str) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, t| t.appid != appid);
        self.platforms.revoke(appid);
    }

    /// Keeps a token made outside the simulator (a platform's) for leak tests.
    fn note_issued(&self, token: &str) {
        self.issued.lock().unwrap_or_else(|e| e.into_inner()).push(token.to_string());
    }

    fn take_fault(&self, appid: &str, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.get_mut(&(appid.to_string(), path.to_string())).and_then(VecDeque::pop_front)
    }
}

pub fn errcode(code: i64, msg: &str) -> Value {
    json!({"errcode": code, "errmsg": format!("{msg} rid: sim-{:08x}", fastrand::u32(..))})
}

/// A collector's row as WeChat sends it: its fields by their WeChat names, a
/// field without a value left out. For an odd app, the fields named in `as_text`
/// carry their numbers as strings, as some real answers do.
pub fn wire(row: &impl serde::Serialize, app: &SimApp, as_text: &[&str]) -> Value {
    let mut v = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !x.is_null());
        for (k, x) in o.iter_mut() {
            if app.odd && as_text.contains(&k.as_str()) && x.is_number() {
                *x = Value::String(x.to_string());
            }
        }
    }
    v
}

/// A running simulator; it stops when dropped.
pub struct Simulator {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    handle: JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Simulator {
    /// Starts on 127.0.0.1 at a free port.
    pub async fn start(opts: Options) -> std::io::Result<Simulator> {
        Simulator::start_on(opts, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(opts: Options, addr: SocketAddr) -> std::io::Result<Simulator> {
        let state = Arc::new(SimState {
            apps: opts.apps.into_iter().map(|a| (a.appid.clone(), a)).collect(),
            publish_hour: opts.publish_hour,
            token_ttl: opts.token_ttl,
            clock: opts.clock,
            record_calls: opts.record_calls,
            tokens: Mutex::default(),
            issued: Mutex::default(),
            calls: Mutex::default(),
            faults: Mutex::default(),
            states: COLLECTORS
                .iter()
                .filter_map(|k| k.sim_state())
                .map(|s| ((*s).type_id(), s))
                .collect(),
            routes: COLLECTORS.iter().flat_map(|k| k.routes()).map(|r| (r.api.path, r)).collect(),
            platforms: platform::Platforms::default(),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let handle = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(Simulator { addr, state, handle })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a fault for the next call of `path` by `appid`.
    pub fn inject(&self, appid: &str, path: &str, fault: Fault) {
        let mut faults = self.state.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.entry((appid.into(), path.into())).or_default().push_back(fault);
    }

    /// Every call seen so far to `path`.
    pub fn calls(&self, path: &str) -> Vec<Call> {
        let calls = self.state.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.iter().filter(|c| c.path == path).cloned().collect()
    }

    /// Invalidates an app's tokens, as another service calling `/cgi-bin/token` would.
    pub fn revoke_tokens(&self, appid: &str) {
        self.state.revoke_tokens(appid);
    }

    /// A client for `app` against this simulator, for tests that drive a collector directly.
    pub fn client_for(&self, app: &SimApp) -> Result<crate::wechat::AppClient, crate::wechat::WechatError> {
        use crate::wechat::{AppClient, ClientSettings, Credential, TokenMode, WechatClient};
        let settings = ClientSettings { base_url: self.base_url(), timeout: Duration::from_secs(5), max_in_flight: 4, ..Default::default() };
        let shared = Arc::new(WechatClient::new(settings, Arc::new(crate::telemetry::Live::default()))?);
        let secret = crate::secret::Secret::new(app.secret.as_str());
        let credential = Credential::Secret { appid: app.appid.clone(), secret, mode: TokenMode::Stable };
        Ok(AppClient::new(Arc::from(app.name.as_str()), shared, credential))
    }

    /// The state of type `T` a collector's answers keep (the realtime log streams).
    pub fn state<T: Any>(&self) -> Option<&T> {
        self.state.state()
    }

    /// The tokens currently valid.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.tokens.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Every token issued since the start, valid or not, for leak tests.
    pub fn all_issued_tokens(&self) -> Vec<String> {
        self.state.issued.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn reply(v: Value) -> Response {
    ([("content-type", "application/json; encoding=utf-8")], v.to_string()).into_response()
}

async fn handle(
    State(st): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    // Query parameters of a GET stand in for the body, as WeChat's GET APIs take them.
    let parsed: Result<Value, _> = if method == Method::GET {
        Ok(Value::Object(query.iter().filter(|(k, _)| *k != "access_token").map(|(k, v)| (k.clone(), json!(v))).collect()))
    } else if body.is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_slice(&body)
    };
    let Ok(req) = parsed else {
        return reply(errcode(47001, "data format error"));
    };

    if let Some(answer) = platform::handle(&st, &path, &query, &req).await {
        return answer;
    }
    match path.as_str() {
        "/cgi-bin/stable_token" | "/cgi-bin/token" => {
            let appid = req.get("appid").and_then(Value::as_str).unwrap_or_default().to_string();
            record(&st, &path, Some(&appid), &req);
            if let Some(f) = st.take_fault(&appid, &path) {
                return fault(f).await;
            }
            return reply(token_endpoint(&st, &path, &req));
        }
        _ => {}
    }

    let appid = match st.check_token(query.get("access_token").map(String::as_str)) {
        Ok(a) => a,
        Err(e) => {
            record(&st, &path, None, &req);
            return reply(e);
        }
    };
    record(&st, &path, Some(&appid), &req);
    if let Some(f) = st.take_fault(&appid, &path) {
        if let Fault::Errcode(code) = f
            && crate::wechat::error::TOKEN_STALE.contains(&code) {
                st.revoke_tokens(&appid);
            }
        return fault(f).await;
    }
    let Some(app) = st.app(&appid).cloned().or_else(|| st.platforms.app(&appid)) else {
        return reply(errcode(40013, "invalid appid"));
    };
    match st.routes.get(path.as_str()) {
        Some(route) => reply((route.answer)(&st, &app, &req)),
        None => (StatusCode::NOT_FOUND, "<html><body>404 Not Found</body></html>").into_response(),
    }
}

fn record(st: &SimState, path: &str, appid: Option<&str>, body: &Value) {
    if !st.record_calls {
        return;
    }
    st.calls.lock().unwrap_or_else(|e| e.into_inner()).push(Call {
        path: path.into(),
        appid: appid.map(str::to_string),
        body: body.clone(),
    });
}

async fn fault(f: Fault) -> Response {
    match f {
        Fault::Errcode(code) => reply(errcode(code, "simulated error")),
        Fault::Http(status) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            [("content-type", "text/html")],
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>Bad Gateway</h1></center></body></html>",
        )
            .into_response(),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            reply(json!({}))
        }
        Fault::Body(b) => ([("content-type", "application/json")], b).into_response(),
        Fault::Reset => {
            let parts: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"list\":[{\"ref_date\":")),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated reset")),
            ];
            let body = axum::body::Body::from_stream(futures_util::stream::iter(parts));
            ([("content-type", "application/json")], body).into_response()
        }
        Fault::Redirect { status, location } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND),
            [("location", location)],
            "",
        )
            .into_response(),
        Fault::Huge { bytes, declared } => {
            // {"errcode":0,"pad":"xxxx…"}: made of 64 KiB pieces, never held whole.
            let head = Bytes::from_static(b"{\"errcode\":0,\"pad\":\"");
            let tail = Bytes::from_static(b"\"}");
            let pad = bytes.saturating_sub(head.len() + tail.len());
            let piece = Bytes::from(vec![b'x'; 64 * 1024]);
            let pieces = std::iter::once(head)
                .chain((0..pad / piece.len()).map(move |_| piece.clone()))
                .chain(std::iter::once(Bytes::from(vec![b'x'; pad % (64 * 1024)])))
                .chain(std::iter::once(tail))
                .map(Ok::<_, std::io::Error>);
            let mut resp = axum::body::Body::from_stream(futures_util::stream::iter(pieces)).into_response();
            resp.headers_mut().insert("content-type", axum::http::HeaderValue::from_static("application/json"));
            if declared && let Ok(len) = axum::http::HeaderValue::from_str(&bytes.max(head_tail_len()).to_string()) {
                resp.headers_mut().insert("content-length", len);
            }
            resp
        }
    }
}

/// The size of the shortest [`Fault::Huge`] body.
fn head_tail_len() -> usize {
    br#"{"errcode":0,"pad":""}"#.len()
}

fn token_endpoint(st: &SimState, path: &str, req: &Value) -> Value {
    let field = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or_default();
    if field("grant_type") != "client_credential" {
        return errcode(40002, "invalid grant_type");
    }
    let Some(app) = st.app(field("appid")) else {
        return errcode(40013, "invalid appid");
    };
    if app.secret != field("secret") {
        return errcode(40125, "invalid appsecret");
    }
    // stable_token hands out the same token while it lives, unless forced;
    // the classic endpoint always makes a new one, killing the old.
    let force = req.get("force_refresh").and_then(Value::as_bool).unwrap_or(false);
    let reuse = path == "/cgi-bin/stable_token" && !force;
    let (token, ttl) = st.issue(&app.appid, reuse);
    json!({"access_token": token, "expires_in": ttl})
}

/// The datacube date rules: `yyyymmdd` (or `yyyy-mm-dd` where `dashed`), a span of
/// at most `max_days`, and an end no later than yesterday (UTC+8).
pub fn check_dates(st: &SimState, req: &Value, dashed: bool, max_days: i64) -> Result<(NaiveDate, NaiveDate), Value> {
    let fmt = if dashed { "%Y-%m-%d" } else { "%Y%m%d" };
    let get = |k: &str| {
        req.get(k).and_then(Value::as_str).and_then(|s| NaiveDate::parse_from_str(s, fmt).ok())
    };
    let (Some(begin), Some(end)) = (get("begin_date"), get("end_date")) else {
        return Err(errcode(61500, "date format error"));
    };
    if end < begin || (end - begin).num_days() >= max_days || end > st.yesterday() {
        return Err(errcode(61501, "date range error"));
    }
    Ok((begin, end))
}

/// Where a mini program's answer for one day starts: 48001 for another account
/// kind, then the date rules for one day (`yyyymmdd`, yesterday at the latest).
pub fn mini_program_day(st: &SimState, app: &SimApp, req: &Value) -> Result<NaiveDate, Value> {
    if app.account != Account::Miniprogram {
        return Err(errcode(48001, "api unauthorized"));
    }
    check_dates(st, req, false, 1).map(|(_, day)| day)
}

/// The demo's apps: two mini programs (one of them answering oddly; the other
/// running an SMS-marketing activity on CloudBase) and an Official Account.
pub fn demo_apps() -> Vec<SimApp> {
    let mut game = SimApp::new("game", "wxdemo0000game01", Account::Miniprogram);
    game.odd = true;
    let mut shop = SimApp::new("shop", "wxdemo0000shop01", Account::Miniprogram);
    shop.sms = vec![SmsActivity::new(
        "shop-prod-4g7h2k",
        "21ded5cb6001691405171ba161c603d1",
        &["_cms_sms_", "spring_sale", "vip_members"],
    )];
    vec![
        shop,
        game,
        SimApp::new("news", "wxdemo0000news01", Account::OfficialAccount),
    ]
}

/// A config for the exporter that polls `sim`'s apps with every collector that
/// has a demo block for them, at short intervals so a demo shows change soon.
pub fn demo_config(base_url: &str, apps: &[SimApp]) -> String {
    let mut out = format!("wechat:\n  base_url: {base_url}\n  timeout: 5s\napps:\n");
    for a in apps {
        out.push_str(&a.config_entry());
        out.push_str("    collectors:\n");
        for kind in COLLECTORS.iter().filter(|k| k.accounts().contains(&a.account)) {
            out.extend(kind.demo(a));
        }
    }
    out
}
