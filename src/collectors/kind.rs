//! What every collector declares about itself, once, in its own module: a
//! [`Kind`] holding its name, the accounts it serves, whether it runs by default,
//! its intervals, its metrics, how to build it from its settings, and its
//! simulator answers. The config, the scheduler, the simulator and the tests read
//! these through [`super::COLLECTORS`] and know no collector by name.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{Account, Collector};
use crate::simulator::{SimApp, SimState};
use crate::store::Desc;
use crate::wechat::Api;

pub const MINUTE: Duration = Duration::from_secs(60);
pub const HOUR: Duration = Duration::from_secs(3600);
pub const MINI_PROGRAM: &[Account] = &[Account::Miniprogram];
pub const OFFICIAL_ACCOUNT: &[Account] = &[Account::OfficialAccount];

/// One collector, as its module declares it. `S` is its settings block.
pub struct Kind<S: 'static> {
    /// Its key under `collectors:` and its `collector` label.
    pub name: &'static str,
    /// The account kinds it serves.
    pub accounts: &'static [Account],
    /// Whether it runs for an app whose config names no collectors.
    pub default: bool,
    pub interval: Duration,
    /// Below this, the API's quota is not comfortably met: accepted, with a warning.
    pub comfortable: Duration,
    /// The metric families of the spec it serves (its own `wechat_exporter_*` ones aside).
    pub metrics: &'static [&'static Desc],
    pub build: fn(&S) -> Box<dyn Collector>,
    /// One line for `--config.check`: what it will ask WeChat for.
    pub describe: fn(&S) -> String,
    /// The simulator's answers to its APIs, found by the API's path.
    pub routes: &'static [Route],
    /// State its simulator answers keep between calls, made when a simulator starts.
    pub sim_state: Option<fn() -> Box<dyn Any + Send + Sync>>,
    /// Its block in the demo's config for `app` (lines indented by 6), or None.
    pub demo: fn(&SimApp) -> Option<String>,
    pub settings: PhantomData<fn() -> S>,
}

/// A collector kind as the rest of the exporter sees it, whatever its settings.
pub trait CollectorKind: Sync {
    fn name(&self) -> &'static str;
    fn accounts(&self) -> &'static [Account];
    fn runs_by_default(&self) -> bool;
    fn interval(&self) -> Duration;
    fn comfortable_interval(&self) -> Duration;
    fn metrics(&self) -> &'static [&'static Desc];
    fn routes(&self) -> &'static [Route];
    fn sim_state(&self) -> Option<Box<dyn Any + Send + Sync>>;
    fn demo(&self, app: &SimApp) -> Option<String>;
    /// The kind with its default settings.
    fn default_spec(&'static self) -> Spec;
}

impl<S: 'static> Kind<S> {
    /// What a kind leaves out: no routes, no state, not in the demo.
    pub const BASE: Kind<S> = Kind {
        name: "",
        accounts: MINI_PROGRAM,
        default: false,
        interval: HOUR,
        comfortable: MINUTE,
        metrics: &[],
        build: |_| nothing(),
        describe: |_| String::new(),
        routes: &[],
        sim_state: None,
        demo: |_| None,
        settings: PhantomData,
    };
}

/// `BASE`'s `build`, which every kind sets: a collector that serves nothing.
fn nothing() -> Box<dyn Collector> {
    struct Nothing;
    impl Collector for Nothing {
        fn poll<'a>(
            &'a mut self,
            _: &'a super::PollContext<'a>,
        ) -> super::BoxFuture<'a, Result<super::Output, crate::wechat::WechatError>> {
            Box::pin(async { Ok(super::Output::default()) })
        }
    }
    Box::new(Nothing)
}

/// The simulator's answer to one API: the request body (or a GET's query) in, the
/// JSON WeChat would send out.
pub struct Route {
    pub api: &'static Api,
    pub answer: fn(&SimState, &SimApp, &Value) -> Value,
}

/// A collector's settings block, besides `interval` (which every collector has):
/// a serde struct with `deny_unknown_fields`, every field with a default.
pub trait Settings: DeserializeOwned + Default + Clone + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// Checks what serde cannot (a value against another, a list without repeats).
    fn check(self) -> Result<Self, SettingsError> {
        Ok(self)
    }
}

/// A collector without settings of its own.
#[derive(serde::Deserialize, Default, Clone, PartialEq, Debug)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

impl Settings for NoSettings {}

/// A setting that is wrong: its key below the collector's block (`env_id`,
/// `queries[1]`), what would be right, and text to look for on the offending line,
/// tried in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsError {
    pub key: String,
    pub message: String,
    pub near: Vec<String>,
}

impl SettingsError {
    pub fn new(key: impl Into<String>, message: impl Into<String>, near: &[&str]) -> SettingsError {
        SettingsError { key: key.into(), message: message.into(), near: near.iter().map(|n| n.to_string()).collect() }
    }

    /// The same error below `collectors.`: the key gets the collector's name, and
    /// the collector's own line is the last place to look.
    fn under(mut self, collector: &str) -> SettingsError {
        self.key = if self.key.is_empty() { collector.to_string() } else { format!("{collector}.{}", self.key) };
        self.near.push(format!("{collector}:"));
        self
    }
}

impl<S: Settings> CollectorKind for Kind<S> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn accounts(&self) -> &'static [Account] {
        self.accounts
    }
    fn runs_by_default(&self) -> bool {
        self.default
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    fn comfortable_interval(&self) -> Duration {
        self.comfortable
    }
    fn metrics(&self) -> &'static [&'static Desc] {
        self.metrics
    }
    fn routes(&self) -> &'static [Route] {
        self.routes
    }
    fn sim_state(&self) -> Option<Box<dyn Any + Send + Sync>> {
        self.sim_state.map(|make| make())
    }
    fn demo(&self, app: &SimApp) -> Option<String> {
        (self.demo)(app)
    }
    fn default_spec(&'static self) -> Spec {
        Spec::new(self, S::default())
    }
}

// ---- a configured collector ----

/// A collector with its settings, as the config holds it.
#[derive(Clone)]
pub struct Spec(Arc<dyn Configured>);

trait Configured: Send + Sync {
    fn kind(&self) -> &'static dyn CollectorKind;
    fn build(&self) -> Box<dyn Collector>;
    fn describe(&self) -> String;
    fn settings(&self) -> &dyn Any;
    fn same(&self, other: &dyn Configured) -> bool;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

struct Bound<S: 'static> {
    kind: &'static Kind<S>,
    settings: S,
}

impl<S: Settings> Configured for Bound<S> {
    fn kind(&self) -> &'static dyn CollectorKind {
        self.kind
    }
    fn build(&self) -> Box<dyn Collector> {
        (self.kind.build)(&self.settings)
    }
    fn describe(&self) -> String {
        (self.kind.describe)(&self.settings)
    }
    fn settings(&self) -> &dyn Any {
        &self.settings
    }
    fn same(&self, other: &dyn Configured) -> bool {
        other.kind().name() == self.kind.name && other.settings().downcast_ref::<S>() == Some(&self.settings)
    }
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:?})", self.kind.name, self.settings)
    }
}

impl Spec {
    pub fn new<S: Settings>(kind: &'static Kind<S>, settings: S) -> Spec {
        Spec(Arc::new(Bound { kind, settings }))
    }

    pub fn kind(&self) -> &'static dyn CollectorKind {
        self.0.kind()
    }

    pub fn name(&self) -> &'static str {
        self.0.kind().name()
    }

    pub fn build(&self) -> Box<dyn Collector> {
        self.0.build()
    }

    /// One line for `--config.check`: what the collector will ask WeChat for.
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    /// The settings, if they are an `S`.
    pub fn settings<S: 'static>(&self) -> Option<&S> {
        self.0.settings().downcast_ref()
    }

    /// The collectors an account runs when its config names none.
    pub fn defaults(account: Account) -> Vec<Spec> {
        super::COLLECTORS
            .iter()
            .filter(|k| k.runs_by_default() && k.accounts().contains(&account))
            .map(|k| k.default_spec())
            .collect()
    }
}

impl PartialEq for Spec {
    fn eq(&self, other: &Spec) -> bool {
        self.0.same(&*other.0)
    }
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(f)
    }
}

// ---- reading a `collectors:` block ----

/// A `collectors:` block as written: each collector named, in the order of
/// [`super::COLLECTORS`].
#[derive(Default)]
pub struct Listed(pub Vec<Entry>);

/// One collector of a `collectors:` block. Its settings were read, and checked:
/// a mistake serde could not see is kept here, for the config to place in the file.
pub struct Entry {
    pub kind: &'static dyn CollectorKind,
    pub interval: Option<Duration>,
    pub spec: Result<Spec, SettingsError>,
}

/// A collector configured for an app: which one, with what settings, how often.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorConfig {
    pub spec: Spec,
    pub interval: Duration,
}

impl Listed {
    /// The app's collectors: those listed (left out: the account's defaults), each
    /// checked against the account.
    pub fn resolve(listed: Option<Listed>, account: Account) -> Result<Vec<CollectorConfig>, SettingsError> {
        let Some(Listed(entries)) = listed else {
            return Ok(Spec::defaults(account)
                .into_iter()
                .map(|spec| CollectorConfig { interval: spec.kind().interval(), spec })
                .collect());
        };
        entries
            .into_iter()
            .map(|e| {
                let name = e.kind.name();
                if !e.kind.accounts().contains(&account) {
                    let wants: Vec<&str> = e.kind.accounts().iter().map(|a| a.as_str()).collect();
                    return Err(SettingsError::new(
                        name,
                        format!("{name} is for {} apps, and this one is {}", wants.join(" and "), account.as_str()),
                        &[&format!("{name}:")],
                    ));
                }
                Ok(CollectorConfig { interval: e.interval.unwrap_or(e.kind.interval()), spec: e.spec? })
            })
            .collect()
    }
}

impl<S: Settings> Kind<S> {
    /// Reads this collector's block, the value of `map`'s current key.
    pub fn read<'de, A: MapAccess<'de>>(&'static self, map: &mut A) -> Result<Entry, A::Error> {
        let (interval, settings) = map.next_value_seed(BlockSeed::<S>(PhantomData))?;
        let spec = settings.check().map(|s| Spec::new(self, s)).map_err(|e| e.under(self.name));
        Ok(Entry { kind: self, interval, spec })
    }
}

impl<'de> serde::Deserialize<'de> for Listed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Listed, D::Error> {
        d.deserialize_option(ListedVisitor)
    }
}

struct ListedVisitor;

impl<'de> Visitor<'de> for ListedVisitor {
    type Value = Listed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of collector names to their settings")
    }

    /// `collectors:` with nothing after it: an empty block.
    fn visit_none<E: de::Error>(self) -> Result<Listed, E> {
        Ok(Listed::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Listed, E> {
        Ok(Listed::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Listed, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listed, A::Error> {
        let mut seen: Vec<(usize, Entry)> = Vec::new();
        while let Some(index) = map.next_key_seed(CollectorName)? {
            let name = super::COLLECTORS[index].name();
            if seen.iter().any(|(i, _)| *i == index) {
                return Err(de::Error::duplicate_field(name));
            }
            seen.push((index, super::read_block(name, &mut map)?));
        }
        seen.sort_by_key(|(i, _)| *i);
        Ok(Listed(seen.into_iter().map(|(_, e)| e).collect()))
    }
}

/// A key of a `collectors:` block: the index of the collector it names. An unknown
/// name fails here, while the key is being read, so the error points at its line.
struct CollectorName;

impl<'de> DeserializeSeed<'de> for CollectorName {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CollectorName {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a collector's name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<usize, E> {
        super::COLLECTORS
            .iter()
            .position(|k| k.name() == name)
            .ok_or_else(|| E::unknown_field(name, super::names()))
    }
}

/// A collector's block: `interval`, which every collector has, and the
/// collector's own settings `S`. `name:` alone (YAML's null) is an empty block.
struct BlockSeed<S>(PhantomData<S>);

impl<'de, S: Settings> DeserializeSeed<'de> for BlockSeed<S> {
    type Value = (Option<Duration>, S);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: Settings> Visitor<'de> for BlockSeed<S> {
    type Value = (Option<Duration>, S);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the collector's settings, like {interval: 1h}")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        let empty = de::value::MapDeserializer::<std::iter::Empty<((), ())>, E>::new(std::iter::empty());
        Ok((None, S::deserialize(empty)?))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut interval = None;
        let settings = S::deserialize(de::value::MapAccessDeserializer::new(Rest { map, interval: &mut interval }))?;
        Ok((interval, settings))
    }
}

/// A block's map without `interval`, which it takes out for the block: what the
/// collector's settings struct reads.
struct Rest<'a, A> {
    map: A,
    interval: &'a mut Option<Duration>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let mut seed = seed;
        loop {
            match self.map.next_key_seed(SettingName(seed))? {
                None => return Ok(None),
                Some(Key::Field(v)) => return Ok(Some(v)),
                Some(Key::Interval(back)) => {
                    if self.interval.is_some() {
                        return Err(de::Error::duplicate_field("interval"));
                    }
                    *self.interval = self.map.next_value_seed(IntervalSeed)?;
                    seed = back;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

enum Key<K, V> {
    Interval(K),
    Field(V),
}

/// A key of a collector's block: `interval`, or one of the settings struct's
/// fields, read while the key is (so a mistake points at its line). An unknown
/// key's message lists `interval` among the keys that would be right.
struct SettingName<K>(K);

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for SettingName<K> {
    type Value = Key<K, K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for SettingName<K> {
    type Value = Key<K, K::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a setting's name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        if key == "interval" {
            return Ok(Key::Interval(self.0));
        }
        self.0
            .deserialize(de::value::StrDeserializer::<KeyError>::new(key))
            .map(Key::Field)
            .map_err(|e| E::custom(e.0))
    }
}

/// The error of reading one setting's name.
#[derive(Debug)]
struct KeyError(String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

impl de::Error for KeyError {
    fn custom<T: fmt::Display>(msg: T) -> KeyError {
        KeyError(msg.to_string())
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> KeyError {
        let mut all = vec!["interval"];
        all.extend(expected);
        let quoted: Vec<String> = all.iter().map(|k| format!("`{k}`")).collect();
        let list = match quoted.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a} or {b}"),
            _ => format!("one of {}", quoted.join(", ")),
        };
        KeyError(format!("unknown field `{field}`, expected {list}"))
    }
}

/// `interval`: a humantime duration, as everywhere in the config.
struct IntervalSeed;

impl<'de> DeserializeSeed<'de> for IntervalSeed {
    type Value = Option<Duration>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Duration>, D::Error> {
        crate::config::duration(d)
    }
}
