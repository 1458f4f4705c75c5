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

/// Where a fragment comes from: an app and one of its parts (a collector's name,
/// or `exporter` for the app's own telemetry). An empty app means no `app` label.
pub type PartKey = (Arc<str>, &'static str);

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
    /// (part, start, length) in `text`.
    index: Vec<(PartKey, u32, u32)>,
    gzip: Mutex<Option<Bytes>>,
}

impl Bucket {
    /// Sets (or with `None` removes) one part's fragment. Returns whether anything changed:
    /// a result that renders to the same text as before leaves the bucket and its cache alone.
    fn set(&mut self, key: &PartKey, fragment: Option<&str>) -> bool {
        let pos = self.index.iter().position(|(k, _, _)| k == key);
        let old = pos.map(|i| {
            let (_, start, len) = &self.index[i];
            &self.text[*start as usize..(*start + *len) as usize]
        });
        if old == fragment.map(str::as_bytes) {
            return false;
        }
        let mut text = Vec::with_capacity(self.text.len() + fragment.map_or(0, str::len));
        let mut index = Vec::with_capacity(self.index.len() + 1);
        for (i, (k, start, len)) in self.index.drain(..).enumerate() {
            if Some(i) == pos {
                continue;
            }
            let at = text.len() as u32;
            text.extend_from_slice(&self.text[start as usize..(start + len) as usize]);
            index.push((k, at, len));
        }
        if let Some(f) = fragment {
            index.push((key.clone(), text.len() as u32, f.len() as u32));
            text.extend_from_slice(f.as_bytes());
        }
        self.text = Bytes::from(text);
        self.index = index;
        *self.gzip.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        true
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
    len: usize,
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
            len: 0,
        }
    }

    fn set(&mut self, key: &PartKey, fragment: Option<&str>) {
        let b = &mut self.buckets[bucket_of(&key.0)];
        let had = b.index.len();
        b.set(key, fragment);
        self.len = self.len + b.index.len() - had;
    }
}

fn bucket_of(app: &str) -> usize {
    (crate::fnv::hash(app.as_bytes()) % BUCKETS as u64) as usize
}

#[derive(Default)]
struct Inner {
    families: BTreeMap<Arc<str>, Family>,
    /// Which families each part wrote, so a replacement can take back what it no longer has.
    parts: HashMap<PartKey, Vec<Arc<str>>>,
}

/// The store's heap, by what it holds (see [`Store::heap_bytes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreBytes {
    /// The rendered text of every fragment, kept once.
    pub text: usize,
    /// The cached gzip members.
    pub gzip: usize,
    /// Where each fragment lies and which families each part wrote.
    pub index: usize,
}

#[derive(Default)]
pub struct Store {
    inner: RwLock<Inner>,
}

impl Inner {
    fn remove_from(&mut self, name: &str, key: &PartKey) {
        if let Some(f) = self.families.get_mut(name) {
            f.set(key, None);
            if f.len == 0 {
                self.families.remove(name);
            }
        }
    }
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Replaces everything `part` of `app` had with `samples`.
    pub fn replace(&self, app: &Arc<str>, part: &'static str, samples: &[Sample]) {
        let key: PartKey = (app.clone(), part);
        // Render outside the lock: a scrape should never wait on formatting.
        let mut rendered: BTreeMap<&str, (&Desc, String)> = BTreeMap::new();
        let app_label = if app.is_empty() { None } else { Some(app.as_ref()) };
        for s in samples {
            let entry = rendered.entry(s.desc.name.as_ref()).or_insert_with(|| (&s.desc, String::new()));
            write_sample(&mut entry.1, &s.desc.sample_name(), app_label, &s.labels, s.value);
        }

        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let old = inner.parts.remove(&key).unwrap_or_default();
        for name in &old {
            if !rendered.contains_key(&**name) {
                inner.remove_from(name, &key);
            }
        }
        let mut names = Vec::with_capacity(rendered.len());
        for (name, (desc, text)) in rendered {
            // Family names are kept once, shared by every part that writes them.
            let name: Arc<str> = match inner.families.get_key_value(name) {
                Some((n, _)) => n.clone(),
                None => Arc::from(name),
            };
            let fam = inner.families.entry(name.clone()).or_insert_with(|| Family::new(desc));
            if fam.desc.kind != desc.kind {
                // A dynamic name (a CloudBase column) that collides with a fixed one of
                // another type would make the output invalid; the first one keeps the name.
                tracing::warn!(metric = &*name, "metric name already used with another type; samples dropped");
                continue;
            }
            fam.set(&key, Some(&text));
            names.push(name);
        }
        if !names.is_empty() {
            inner.parts.insert(key, names);
        }
    }

    /// Removes every part of `app`.
    pub fn remove_app(&self, app: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<PartKey> = inner.parts.keys().filter(|k| &*k.0 == app).cloned().collect();
        for key in keys {
            for name in inner.parts.remove(&key).unwrap_or_default() {
                inner.remove_from(&name, &key);
            }
        }
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
                out.index += b.index.capacity() * std::mem::size_of::<(PartKey, u32, u32)>();
                out.gzip += b.gzip.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, Bytes::len);
            }
        }
        let slot = std::mem::size_of::<(PartKey, Vec<Arc<str>>)>() + 1;
        out.index += inner.parts.capacity() * slot;
        out.index += inner.parts.values().map(|v| v.capacity() * std::mem::size_of::<Arc<str>>()).sum::<usize>();
        out
    }

    /// The names of the apps that have anything stored, for tests and the landing page.
    pub fn apps(&self) -> Vec<String> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut apps: Vec<String> = inner.parts.keys().map(|k| k.0.to_string()).collect();
        apps.sort();
        apps.dedup();
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
}
