//! The metric store: what a scrape reads, and the only thing it reads.
//!
//! Pollers hand over whole results for one (app, part) at a time; the store renders
//! them to exposition text right away and keeps the text, so a scrape assembles
//! finished fragments family by family instead of re-encoding every sample. A part
//! is a collector's result or an app's own telemetry; replacing it drops whatever the
//! previous result had that the new one lacks, so series vanish with their source.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;

use crate::exposition::{gzip, write_header, write_sample, Format};

/// The metric type, as both exposition formats name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric family's description. For counters `name` is without `_total`,
/// as OpenMetrics names the family; the samples carry `_total`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desc {
    pub name: Cow<'static, str>,
    pub help: Cow<'static, str>,
    pub kind: Kind,
}

impl Desc {
    pub const fn gauge(name: &'static str, help: &'static str) -> Desc {
        Desc { name: Cow::Borrowed(name), help: Cow::Borrowed(help), kind: Kind::Gauge }
    }
    pub const fn counter(name: &'static str, help: &'static str) -> Desc {
        Desc { name: Cow::Borrowed(name), help: Cow::Borrowed(help), kind: Kind::Counter }
    }
    pub const fn histogram(name: &'static str, help: &'static str) -> Desc {
        Desc { name: Cow::Borrowed(name), help: Cow::Borrowed(help), kind: Kind::Histogram }
    }

    /// The name a sample of this family carries (counters end in `_total`).
    pub fn sample_name(&self) -> Cow<'_, str> {
        match self.kind {
            Kind::Counter => Cow::Owned(format!("{}_total", self.name)),
            _ => Cow::Borrowed(&self.name),
        }
    }
}

pub type Label = (Cow<'static, str>, String);

/// One sample, without the `app` label: the store adds it from the part's key.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub desc: Desc,
    pub labels: Vec<Label>,
    pub value: f64,
}

impl Sample {
    pub fn new(desc: &Desc, value: f64) -> Sample {
        Sample { desc: desc.clone(), labels: Vec::new(), value }
    }
    pub fn label(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Sample {
        self.labels.push((name.into(), value.into()));
        self
    }
}

/// Where a fragment comes from: an app and one of its parts (a collector's name, or
/// `exporter` for the app's own telemetry), each by its number in the store's tables,
/// so that an index entry takes 16 bytes rather than the 40 of an `Arc` and a `&str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    app: u32,
    part: u16,
}

/// Where one fragment lies in its bucket's text.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: Key,
    start: u32,
    len: u32,
}

/// Apps are spread over this many buckets per family. A poll result re-renders only
/// its own fragment and rebuilds only its bucket; a scrape reuses every bucket that
/// did not change, as text and as a finished gzip member.
const BUCKETS: usize = 128;

/// One bucket of a family: its fragments one after another in a single buffer (the
/// text a scrape sends, kept once), where each fragment lies, and the buffer gzipped
/// once it is asked for.
#[derive(Default)]
struct Bucket {
    text: Bytes,
    index: Vec<Entry>,
    gzip: Mutex<Option<Bytes>>,
}

impl Bucket {
    /// Sets (or with `None` removes) one part's fragment. A result that renders to the
    /// same text as before leaves the bucket and its cache alone.
    fn set(&mut self, key: Key, fragment: Option<&str>) {
        let old = self.index.iter().find(|e| e.key == key).map(|e| self.fragment(e));
        if old == fragment.map(str::as_bytes) {
            return;
        }
        self.rebuild(|e| e.key != key, fragment.map(|f| (key, f)));
    }

    /// Removes every fragment of app number `app`.
    fn remove_app(&mut self, app: u32) {
        if self.index.iter().any(|e| e.key.app == app) {
            self.rebuild(|e| e.key.app != app, None);
        }
    }

    fn fragment(&self, e: &Entry) -> &[u8] {
        &self.text[e.start as usize..(e.start + e.len) as usize]
    }

    fn has(&self, key: Key) -> bool {
        self.index.iter().any(|e| e.key == key)
    }

    /// Keeps the fragments `keep` accepts, adds `new` at the end, and drops the gzip member.
    /// The new buffers are sized exactly: they live until the bucket next changes.
    fn rebuild(&mut self, keep: impl Fn(&Entry) -> bool, new: Option<(Key, &str)>) {
        let kept = self.index.iter().filter(|e| keep(e));
        let (entries, bytes) = kept.fold((0, 0), |(n, b), e| (n + 1, b + e.len as usize));
        let mut text = Vec::with_capacity(bytes + new.map_or(0, |(_, f)| f.len()));
        let mut index = Vec::with_capacity(entries + usize::from(new.is_some()));
        for e in self.index.iter().filter(|e| keep(e)) {
            index.push(Entry { start: text.len() as u32, ..*e });
            text.extend_from_slice(self.fragment(e));
        }
        if let Some((key, f)) = new {
            index.push(Entry { key, start: text.len() as u32, len: f.len() as u32 });
            text.extend_from_slice(f.as_bytes());
        }
        self.text = Bytes::from(text);
        self.index = index;
        *self.gzip.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn gzip(&self) -> Bytes {
        let mut g = self.gzip.lock().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert_with(|| gzip(&self.text)).clone()
    }
}

struct Family {
    desc: Desc,
    /// `# HELP`/`# TYPE` for each format, plain and gzipped.
    headers: [(Bytes, Bytes); 2],
    buckets: Vec<Bucket>,
}

impl Family {
    fn new(desc: &Desc) -> Family {
        let header = |format| {
            let mut h = String::new();
            write_header(&mut h, desc, format);
            let plain = Bytes::from(h);
            let gz = gzip(&plain);
            (plain, gz)
        };
        Family {
            desc: desc.clone(),
            headers: [header(Format::Text), header(Format::OpenMetrics)],
            buckets: (0..BUCKETS).map(|_| Bucket::default()).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.index.is_empty())
    }
}

fn bucket_of(app: &str) -> usize {
    (crate::fnv::hash(app.as_bytes()) % BUCKETS as u64) as usize
}

/// The apps the store holds fragments of, numbered. A number is given back when its
/// app's last fragment goes, and given again to the next new app.
#[derive(Default)]
struct Apps {
    ids: HashMap<Arc<str>, u32>,
    /// By number: the app, or `None` for a free number.
    names: Vec<Option<Arc<str>>>,
    free: Vec<u32>,
}

impl Apps {
    fn id(&mut self, app: &Arc<str>) -> u32 {
        if let Some(id) = self.ids.get(app) {
            return *id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = Some(app.clone());
                id
            }
            None => {
                self.names.push(Some(app.clone()));
                (self.names.len() - 1) as u32
            }
        };
        self.ids.insert(app.clone(), id);
        id
    }

    fn release(&mut self, app: &str) {
        if let Some(id) = self.ids.remove(app) {
            self.names[id as usize] = None;
            self.free.push(id);
        }
    }
}

#[derive(Default)]
struct Inner {
    families: BTreeMap<Arc<str>, Family>,
    apps: Apps,
    /// Part names by number: a handful (the collectors and `exporter`).
    parts: Vec<&'static str>,
}

/// The store's heap, by what it holds (see [`Store::heap_bytes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreBytes {
    /// The rendered text of every fragment, kept once.
    pub text: usize,
    /// The cached gzip members.
    pub gzip: usize,
    /// Where each fragment lies, the families' headers and the table of apps.
    pub index: usize,
}

#[derive(Default)]
pub struct Store {
    inner: RwLock<Inner>,
}

impl Inner {
    fn part_id(&mut self, part: &'static str) -> u16 {
        match self.parts.iter().position(|p| *p == part) {
            Some(i) => i as u16,
            None => {
                self.parts.push(part);
                (self.parts.len() - 1) as u16
            }
        }
    }

    /// Whether app number `app` (in bucket `b`) has any fragment left.
    fn holds(&self, b: usize, app: u32) -> bool {
        self.families.values().any(|f| f.buckets[b].index.iter().any(|e| e.key.app == app))
    }

    fn drop_empty_families(&mut self) {
        self.families.retain(|_, f| !f.is_empty());
    }
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Replaces everything `part` of `app` had with `samples`.
    pub fn replace(&self, app: &Arc<str>, part: &'static str, samples: &[Sample]) {
        // Render outside the lock: a scrape should never wait on formatting.
        let mut rendered: BTreeMap<&str, (&Desc, String)> = BTreeMap::new();
        let app_label = if app.is_empty() { None } else { Some(app.as_ref()) };
        for s in samples {
            let entry = rendered.entry(s.desc.name.as_ref()).or_insert_with(|| (&s.desc, String::new()));
            write_sample(&mut entry.1, &s.desc.sample_name(), app_label, &s.labels, s.value);
        }

        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if rendered.is_empty() && !inner.apps.ids.contains_key(app) {
            return;
        }
        let key = Key { app: inner.apps.id(app), part: inner.part_id(part) };
        let b = bucket_of(app);
        // The families this part wrote before and no longer does: all its families lie in
        // bucket `b`, so looking there finds them without a table of its own.
        let mut emptied = false;
        for (name, fam) in inner.families.iter_mut() {
            if !rendered.contains_key(&**name) && fam.buckets[b].has(key) {
                fam.buckets[b].set(key, None);
                emptied = true;
            }
        }
        for (name, (desc, text)) in rendered {
            if !inner.families.contains_key(name) {
                inner.families.insert(Arc::from(name), Family::new(desc));
            }
            let Some(fam) = inner.families.get_mut(name) else { continue };
            if fam.desc.kind != desc.kind {
                // A dynamic name (a CloudBase column) that collides with a fixed one of
                // another type would make the output invalid; the first one keeps the name.
                tracing::warn!(metric = name, "metric name already used with another type; samples dropped");
                continue;
            }
            fam.buckets[b].set(key, Some(&text));
        }
        if emptied {
            inner.drop_empty_families();
        }
        if !inner.holds(b, key.app) {
            inner.apps.release(app);
        }
    }

    /// Removes every part of `app`.
    pub fn remove_app(&self, app: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let Some(&id) = inner.apps.ids.get(app) else { return };
        let b = bucket_of(app);
        for fam in inner.families.values_mut() {
            fam.buckets[b].remove_app(id);
        }
        inner.drop_empty_families();
        inner.apps.release(app);
    }

    /// Removes one part of `app`.
    pub fn remove_part(&self, app: &Arc<str>, part: &'static str) {
        self.replace(app, part, &[]);
    }

    /// The stored families as chunks of exposition text, family by family, without
    /// the OpenMetrics `# EOF`: [`crate::exposition`] appends the process-wide families and it. With
    /// `gzip`, each chunk is a gzip member and their concatenation a gzip stream.
    pub fn chunks(&self, format: Format, gzip: bool) -> Vec<Bytes> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let f = match format {
            Format::Text => 0,
            Format::OpenMetrics => 1,
        };
        let mut out = Vec::with_capacity(inner.families.len() * 16);
        for fam in inner.families.values() {
            let (plain, gz) = &fam.headers[f];
            out.push(if gzip { gz.clone() } else { plain.clone() });
            for b in fam.buckets.iter().filter(|b| !b.index.is_empty()) {
                out.push(if gzip { b.gzip() } else { b.text.clone() });
            }
        }
        out
    }

    /// The stored families as one plain exposition (without `# EOF`).
    pub fn render(&self, format: Format) -> Vec<u8> {
        self.chunks(format, false).concat()
    }

    /// What the store holds on the heap, roughly (the payloads and the tables' slots,
    /// not the allocator's own overhead), for the benchmark's memory breakdown.
    pub fn heap_bytes(&self) -> StoreBytes {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut out = StoreBytes::default();
        for (name, fam) in &inner.families {
            out.index += name.len() + std::mem::size_of::<Family>() + BUCKETS * std::mem::size_of::<Bucket>();
            out.index += fam.headers.iter().map(|(p, g)| p.len() + g.len()).sum::<usize>();
            for b in &fam.buckets {
                out.text += b.text.len();
                out.index += b.index.capacity() * std::mem::size_of::<Entry>();
                out.gzip += b.gzip.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, Bytes::len);
            }
        }
        let apps = &inner.apps;
        out.index += apps.ids.capacity() * (std::mem::size_of::<(Arc<str>, u32)>() + 1);
        out.index += apps.names.capacity() * std::mem::size_of::<Option<Arc<str>>>() + apps.free.capacity() * 4;
        out
    }

    /// The names of the apps that have anything stored, for tests and the landing page.
    pub fn apps(&self) -> Vec<String> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut apps: Vec<String> = inner.apps.ids.keys().map(|a| a.to_string()).collect();
        apps.sort();
        apps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Desc = Desc::gauge("wechat_test_gauge", "A test gauge.");
    const C: Desc = Desc::counter("wechat_test_records", "A test counter.");

    fn text(store: &Store, f: Format) -> String {
        String::from_utf8(store.render(f)).unwrap()
    }

    #[test]
    fn counters_carry_total_in_text_headers_only() {
        let store = Store::new();
        let app: Arc<str> = Arc::from("shop");
        store.replace(&app, "c", &[Sample::new(&C, 3.0).label("level", "error")]);
        let t = text(&store, Format::Text);
        assert!(t.contains("# TYPE wechat_test_records_total counter\n"), "{t}");
        assert!(t.contains("wechat_test_records_total{app=\"shop\",level=\"error\"} 3\n"), "{t}");
        let om = text(&store, Format::OpenMetrics);
        assert!(om.contains("# TYPE wechat_test_records counter\n"), "{om}");
        assert!(om.contains("wechat_test_records_total{app=\"shop\",level=\"error\"} 3\n"), "{om}");
    }

    #[test]
    fn replace_drops_what_the_new_result_lacks() {
        let store = Store::new();
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        store.replace(&a, "x", &[Sample::new(&G, 1.0), Sample::new(&C, 2.0)]);
        store.replace(&b, "x", &[Sample::new(&G, 5.0)]);
        store.replace(&a, "x", &[Sample::new(&G, 1.5)]);
        let t = text(&store, Format::Text);
        assert!(t.contains("wechat_test_gauge{app=\"a\"} 1.5\n"));
        assert!(t.contains("wechat_test_gauge{app=\"b\"} 5\n"));
        assert!(!t.contains("wechat_test_records"), "{t}");
        store.remove_app("b");
        let t = text(&store, Format::Text);
        assert!(!t.contains("app=\"b\""), "{t}");
        assert_eq!(store.apps(), vec!["a".to_string()]);
    }

    #[test]
    fn families_are_grouped_across_apps_and_cached() {
        let store = Store::new();
        for app in ["z", "a", "m"] {
            let app: Arc<str> = Arc::from(app);
            store.replace(&app, "x", &[Sample::new(&G, 1.0), Sample::new(&C, 1.0)]);
        }
        let t = text(&store, Format::Text);
        // Each family's samples stand together, under one header.
        let families: Vec<&str> = t
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('{').next().unwrap())
            .collect();
        let mut runs = families.clone();
        runs.dedup();
        assert_eq!(runs, vec!["wechat_test_gauge", "wechat_test_records_total"], "{t}");
        assert_eq!(families.len(), 6);
        assert_eq!(t.matches("# TYPE").count(), 2);
        // Unchanged buckets are served from their cache: the same bytes, not a copy.
        let c1 = store.chunks(Format::Text, true);
        let c2 = store.chunks(Format::Text, true);
        assert_eq!(c1.len(), c2.len());
        assert!(c1.iter().zip(&c2).all(|(a, b)| a.as_ptr() == b.as_ptr()));
        // The gzip members together are the plain text.
        let mut plain = String::new();
        use std::io::Read as _;
        flate2::read::MultiGzDecoder::new(&c1.concat()[..]).read_to_string(&mut plain).unwrap();
        assert_eq!(plain, t);
        // A change re-renders only its bucket.
        let z: Arc<str> = Arc::from("z");
        store.replace(&z, "x", &[Sample::new(&G, 2.0), Sample::new(&C, 1.0)]);
        let c3 = store.chunks(Format::Text, true);
        let same = c1.iter().zip(&c3).filter(|(a, b)| a.as_ptr() == b.as_ptr()).count();
        assert_eq!(same, c1.len() - 1, "only the changed bucket is new");
        // The same result again changes nothing.
        store.replace(&z, "x", &[Sample::new(&G, 2.0), Sample::new(&C, 1.0)]);
        let c4 = store.chunks(Format::Text, true);
        assert!(c3.iter().zip(&c4).all(|(a, b)| a.as_ptr() == b.as_ptr()));
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let store = Store::new();
        let app: Arc<str> = Arc::from("we\"ird\\app\n");
        store.replace(&app, "x", &[Sample::new(&G, 0.25)]);
        let t = text(&store, Format::Text);
        assert!(t.contains(r#"app="we\"ird\\app\n""#), "{t}");
    }

    #[test]
    fn a_freed_app_number_serves_the_next_app_alone() {
        let store = Store::new();
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        store.replace(&a, "x", &[Sample::new(&G, 1.0)]);
        store.replace(&a, "exporter", &[Sample::new(&C, 1.0)]);
        store.remove_part(&a, "x");
        assert_eq!(store.apps(), vec!["a".to_string()], "a part of `a` is left");
        store.remove_part(&a, "exporter");
        assert!(store.apps().is_empty());
        assert!(text(&store, Format::Text).is_empty(), "empty families go with their last series");
        store.replace(&b, "x", &[Sample::new(&G, 2.0)]);
        store.replace(&a, "y", &[Sample::new(&G, 3.0)]);
        let t = text(&store, Format::Text);
        assert!(t.contains("wechat_test_gauge{app=\"b\"} 2\n") && t.contains("wechat_test_gauge{app=\"a\"} 3\n"), "{t}");
        assert_eq!(t.matches("wechat_test_gauge{").count(), 2, "{t}");
    }

    mod model {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        const APPS: [&str; 5] = ["", "a", "b", "c", "d"];
        const PARTS: [&str; 3] = ["x", "y", "exporter"];
        const DESCS: [Desc; 3] = [
            Desc::gauge("wechat_test_gauge", "A test gauge."),
            Desc::gauge("wechat_test_other", "Another gauge."),
            Desc::counter("wechat_test_records", "A test counter."),
        ];

        #[derive(Clone, Debug)]
        enum Op {
            Replace(usize, usize, Vec<(usize, u8)>),
            RemovePart(usize, usize),
            RemoveApp(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..APPS.len(), 0..PARTS.len(), prop::collection::vec((0..DESCS.len(), 0u8..4), 0..4))
                    .prop_map(|(a, p, s)| Op::Replace(a, p, s)),
                1 => (0..APPS.len(), 0..PARTS.len()).prop_map(|(a, p)| Op::RemovePart(a, p)),
                1 => (0..APPS.len()).prop_map(Op::RemoveApp),
            ]
        }

        fn sample(d: usize, v: u8) -> Sample {
            Sample::new(&DESCS[d], f64::from(v)).label("v", v.to_string())
        }

        proptest! {
            /// Whatever the order of replacements and removals, the store serves exactly
            /// what a plain map of (app, part) to samples holds, each family under one header.
            #[test]
            fn the_store_serves_what_a_plain_map_holds(ops in prop::collection::vec(op(), 1..40)) {
                let store = Store::new();
                let mut model: BTreeMap<(usize, usize), Vec<(usize, u8)>> = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Replace(a, p, s) => {
                            let samples: Vec<Sample> = s.iter().map(|(d, v)| sample(*d, *v)).collect();
                            store.replace(&Arc::from(APPS[a]), PARTS[p], &samples);
                            model.insert((a, p), s);
                        }
                        Op::RemovePart(a, p) => {
                            store.remove_part(&Arc::from(APPS[a]), PARTS[p]);
                            model.remove(&(a, p));
                        }
                        Op::RemoveApp(a) => {
                            store.remove_app(APPS[a]);
                            model.retain(|(x, _), _| *x != a);
                        }
                    }
                }
                let t = text(&store, Format::Text);
                let mut want: Vec<String> = Vec::new();
                for ((a, _), s) in &model {
                    for (d, v) in s {
                        let mut line = String::new();
                        let app = (!APPS[*a].is_empty()).then_some(APPS[*a]);
                        write_sample(&mut line, &DESCS[*d].sample_name(), app, &sample(*d, *v).labels, f64::from(*v));
                        want.push(line);
                    }
                }
                let mut got: Vec<String> = t.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
                want.sort();
                got.sort();
                prop_assert_eq!(got, want);
                let families: BTreeSet<usize> = model.values().flatten().map(|(d, _)| *d).collect();
                prop_assert_eq!(t.matches("# TYPE ").count(), families.len(), "{}", t);
                let apps: BTreeSet<String> =
                    model.iter().filter(|(_, s)| !s.is_empty()).map(|((a, _), _)| APPS[*a].to_string()).collect();
                prop_assert_eq!(store.apps(), apps.into_iter().collect::<Vec<_>>());
            }
        }
    }
}
