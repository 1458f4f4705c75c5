//! OpenMetrics with timestamps, for `promtool tsdb create-blocks-from openmetrics`,
//! written in the order the format demands whatever order the days come in: each
//! family once, each series' samples together, timestamps increasing, `# EOF` last.
//!
//! Days arrive app by app, each with samples of many families; the output wants
//! family by family. So each day's numbers go to a spool file of their family, one
//! line per series and day (not yet one per sample time), and [`Spool::write_to`]
//! reads each family back and writes it out. Memory holds one app's numbers of one
//! family at a time (about 16 bytes a series and day); the spool holds the rest on
//! disk, and the expansion to a sample every step, which is where the size is, is
//! streamed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::PathBuf;

use super::window::Window;
use crate::store::{self, Desc, Format, Sample};

/// One family's spool: a temporary file, gone with the process.
struct Family {
    desc: Desc,
    file: BufWriter<File>,
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub families: usize,
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
}

pub struct Spool {
    dir: PathBuf,
    families: Vec<Family>,
    index: HashMap<Cow<'static, str>, usize>,
    line: String,
}

/// Creates a file no one else can open and removes its name at once: the data
/// lives while the handle does, and nothing is left behind, even after a crash.
fn anonymous_file(dir: &std::path::Path) -> io::Result<File> {
    for _ in 0..16 {
        let path = dir.join(format!("wechat-exporter-backfill-{}-{:016x}", std::process::id(), fastrand::u64(..)));
        match File::options().read(true).write(true).create_new(true).open(&path) {
            Ok(f) => {
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary file name"))
}

impl Spool {
    /// A spool in `dir` (the system's temporary directory, usually).
    pub fn new(dir: PathBuf) -> Spool {
        Spool { dir, families: Vec::new(), index: HashMap::new(), line: String::new() }
    }

    /// Keeps `samples` of app number `seq` (its `app` label `app`) to be written at
    /// every step of `window`. Each call is one period of one collector; an app's
    /// calls come together, its periods in time order.
    pub fn add(&mut self, seq: u32, app: &str, window: Window, samples: &[Sample]) -> io::Result<()> {
        if window.end <= window.start {
            return Ok(());
        }
        for s in samples {
            let i = match self.index.get(&s.desc.name) {
                Some(i) => *i,
                None => {
                    let file = BufWriter::with_capacity(64 * 1024, anonymous_file(&self.dir)?);
                    self.families.push(Family { desc: s.desc.clone(), file });
                    self.index.insert(s.desc.name.clone(), self.families.len() - 1);
                    self.families.len() - 1
                }
            };
            // `seq start end name{labels} value`: the series and value rendered as the
            // exposition writes them, so the second pass only adds the time.
            self.line.clear();
            use std::fmt::Write as _;
            let _ = write!(self.line, "{seq}\t{}\t{}\t", window.start, window.end);
            store::write_sample(&mut self.line, &s.desc.sample_name(), Some(app), &s.labels, s.value);
            self.families[i].file.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Writes every family, each series at every `step` seconds of its windows, and
    /// `# EOF`.
    pub fn write_to<W: Write>(self, out: W, step: i64) -> io::Result<Written> {
        let mut out = Counting { inner: BufWriter::with_capacity(256 * 1024, out), bytes: 0 };
        let mut written = Written { families: self.families.len(), ..Written::default() };
        let mut header = String::new();
        for family in self.families {
            header.clear();
            store::write_header(&mut header, &family.desc, Format::OpenMetrics);
            out.write_all(header.as_bytes())?;
            let mut file = family.file.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            let mut chunk = Chunk::default();
            for line in BufReader::with_capacity(64 * 1024, file).lines() {
                let line = line?;
                let Some(record) = Record::parse(&line) else {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "backfill spool record is damaged"));
                };
                if chunk.seq != Some(record.seq) {
                    chunk.flush(&mut out, step, &mut written)?;
                    chunk.seq = Some(record.seq);
                }
                chunk.push(record);
            }
            chunk.flush(&mut out, step, &mut written)?;
        }
        out.write_all(b"# EOF\n")?;
        out.inner.flush()?;
        written.bytes = out.bytes;
        Ok(written)
    }
}

/// A spooled line, read back.
struct Record<'a> {
    seq: u32,
    window: Window,
    series: &'a str,
    value: &'a str,
}

impl Record<'_> {
    fn parse(line: &str) -> Option<Record<'_>> {
        let mut parts = line.splitn(4, '\t');
        let seq = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        let end = parts.next()?.parse().ok()?;
        // The value is the last word: label values may hold spaces, values never do.
        let (series, value) = parts.next()?.rsplit_once(' ')?;
        Some(Record { seq, window: Window { start, end }, series, value })
    }
}

/// One app's records of one family, by series in the order first seen.
#[derive(Default)]
struct Chunk {
    seq: Option<u32>,
    index: HashMap<String, usize>,
    series: Vec<(String, Vec<(Window, String)>)>,
}

impl Chunk {
    fn push(&mut self, r: Record<'_>) {
        let i = match self.index.get(r.series) {
            Some(i) => *i,
            None => {
                self.series.push((r.series.to_string(), Vec::new()));
                self.index.insert(r.series.to_string(), self.series.len() - 1);
                self.series.len() - 1
            }
        };
        self.series[i].1.push((r.window, r.value.to_string()));
    }

    fn flush<W: Write>(&mut self, out: &mut W, step: i64, written: &mut Written) -> io::Result<()> {
        let mut line = String::new();
        for (series, points) in self.series.drain(..) {
            written.series += 1;
            // Times only ever go forwards within a series; a window that overlaps the
            // one before it gives up its earlier times.
            let mut last = i64::MIN;
            for (window, value) in points {
                for t in window.times(step) {
                    if t <= last {
                        continue;
                    }
                    line.clear();
                    use std::fmt::Write as _;
                    let _ = writeln!(line, "{series} {value} {t}");
                    out.write_all(line.as_bytes())?;
                    written.samples += 1;
                    last = t;
                }
            }
        }
        self.index.clear();
        self.seq = None;
        Ok(())
    }
}

/// Counts the bytes it passes on, for the summary.
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Desc = Desc::gauge("test_a", "A \"quoted\" help.");
    const B: Desc = Desc::gauge("test_b", "B.");

    fn write(spool: Spool, step: i64) -> (String, Written) {
        let mut out = Vec::new();
        let w = spool.write_to(&mut out, step).unwrap();
        (String::from_utf8(out).unwrap(), w)
    }

    #[test]
    fn families_once_series_together_times_rising() {
        let mut s = Spool::new(std::env::temp_dir());
        let day = |k: i64| Window { start: k * 10, end: k * 10 + 10 };
        // Two apps, two days each, samples of both families in each day.
        for (seq, app) in [(0, "shop"), (1, "news")] {
            for k in 0..2 {
                let samples = [
                    Sample::new(&A, k as f64).label("hour", "0"),
                    Sample::new(&B, 1.5),
                    Sample::new(&A, 10.0 + k as f64).label("hour", "1"),
                ];
                s.add(seq, app, day(k), &samples).unwrap();
            }
        }
        let (text, w) = write(s, 5);
        let expected = "\
# HELP test_a A \\\"quoted\\\" help.
# TYPE test_a gauge
test_a{app=\"shop\",hour=\"0\"} 0 0
test_a{app=\"shop\",hour=\"0\"} 0 5
test_a{app=\"shop\",hour=\"0\"} 1 10
test_a{app=\"shop\",hour=\"0\"} 1 15
test_a{app=\"shop\",hour=\"1\"} 10 0
test_a{app=\"shop\",hour=\"1\"} 10 5
test_a{app=\"shop\",hour=\"1\"} 11 10
test_a{app=\"shop\",hour=\"1\"} 11 15
test_a{app=\"news\",hour=\"0\"} 0 0
test_a{app=\"news\",hour=\"0\"} 0 5
test_a{app=\"news\",hour=\"0\"} 1 10
test_a{app=\"news\",hour=\"0\"} 1 15
test_a{app=\"news\",hour=\"1\"} 10 0
test_a{app=\"news\",hour=\"1\"} 10 5
test_a{app=\"news\",hour=\"1\"} 11 10
test_a{app=\"news\",hour=\"1\"} 11 15
# HELP test_b B.
# TYPE test_b gauge
test_b{app=\"shop\"} 1.5 0
test_b{app=\"shop\"} 1.5 5
test_b{app=\"shop\"} 1.5 10
test_b{app=\"shop\"} 1.5 15
test_b{app=\"news\"} 1.5 0
test_b{app=\"news\"} 1.5 5
test_b{app=\"news\"} 1.5 10
test_b{app=\"news\"} 1.5 15
# EOF
";
        assert_eq!(text, expected);
        assert_eq!(w, Written { families: 2, series: 6, samples: 24, bytes: expected.len() as u64 });
    }

    #[test]
    fn label_values_with_spaces_tabs_and_quotes_survive_the_spool() {
        let mut s = Spool::new(std::env::temp_dir());
        let odd = "a b\t\"c\"\\\nd";
        s.add(0, "my app", Window { start: 0, end: 1 }, &[Sample::new(&A, 2.25).label("page", odd)]).unwrap();
        let (text, _) = write(s, 60);
        assert!(text.contains("test_a{app=\"my app\",page=\"a b\t\\\"c\\\"\\\\\\nd\"} 2.25 0\n"), "{text}");
    }

    #[test]
    fn overlapping_windows_never_step_back_and_empty_ones_write_nothing() {
        let mut s = Spool::new(std::env::temp_dir());
        s.add(0, "a", Window { start: 0, end: 20 }, &[Sample::new(&A, 1.0)]).unwrap();
        s.add(0, "a", Window { start: 10, end: 30 }, &[Sample::new(&A, 2.0)]).unwrap();
        s.add(0, "a", Window { start: 40, end: 40 }, &[Sample::new(&B, 2.0)]).unwrap();
        let (text, w) = write(s, 10);
        let times: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit(' ').next().unwrap()).collect();
        assert_eq!(times, ["0", "10", "20"]);
        assert_eq!(w.families, 1, "a family with nothing to write is not opened");
    }

    #[test]
    fn nothing_spooled_is_still_valid() {
        let (text, w) = write(Spool::new(std::env::temp_dir()), 300);
        assert_eq!(text, "# EOF\n");
        assert_eq!(w.samples, 0);
    }
}
