//! The exposition formats, in one place: how a family's header and a sample are
//! written in the Prometheus text format 0.0.4 and in OpenMetrics 1.0, how gzip
//! members are made, and how a whole scrape is put together from the store's
//! pre-rendered chunks and the process-wide families that prometheus-client encodes.

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::body::Bytes;

use crate::store::{Desc, Label, Store};
use crate::telemetry::Live;

/// The two exposition formats a scrape may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The whole exposition in `format`, as chunks: the store's families (cached, shared
/// with other scrapes), then the process-wide families, encoded now, then the
/// OpenMetrics `# EOF`. With `gzip`, each chunk is a gzip member and their
/// concatenation one gzip stream.
pub fn chunks(store: &Store, live: &Live, format: Format, gzip: bool) -> Vec<Bytes> {
    let mut chunks = store.chunks(format, gzip);
    let tail = live.encode(format);
    chunks.push(if gzip { self::gzip(tail.as_bytes()) } else { Bytes::from(tail) });
    chunks
}

/// The whole exposition in `format`, as one plain body.
pub fn render(store: &Store, live: &Live, format: Format) -> Vec<u8> {
    chunks(store, live, format, false).concat()
}

/// Writes a family's `# HELP` and `# TYPE` lines. The text format names a counter
/// family by its `_total` name; OpenMetrics names it without.
pub fn write_header(out: &mut String, desc: &Desc, format: Format) {
    let name: Cow<'_, str> = match format {
        Format::Text => desc.sample_name(),
        Format::OpenMetrics => Cow::Borrowed(&desc.name),
    };
    out.push_str("# HELP ");
    out.push_str(&name);
    out.push(' ');
    escape_help(out, &desc.help, format);
    out.push_str("\n# TYPE ");
    out.push_str(&name);
    out.push(' ');
    out.push_str(desc.kind.as_str());
    out.push('\n');
}

/// Writes one sample line; `app` (when given) comes first among the labels. The
/// line is the same in both formats.
pub fn write_sample(out: &mut String, name: &str, app: Option<&str>, labels: &[Label], value: f64) {
    out.push_str(name);
    let mut first = true;
    let mut open = |out: &mut String| {
        out.push(if first { '{' } else { ',' });
        first = false;
    };
    if let Some(app) = app {
        open(out);
        out.push_str("app=\"");
        escape_label(out, app);
        out.push('"');
    }
    for (k, v) in labels {
        open(out);
        out.push_str(k);
        out.push_str("=\"");
        escape_label(out, v);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

/// Formats a value the way both formats accept: integers without a fraction,
/// the special values spelt as the formats spell them.
pub fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: OpenMetrics escapes `"` as well as `\\` and newlines; the text format does not.
fn escape_help(out: &mut String, v: &str, format: Format) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// One gzip member. Members concatenate into a valid gzip stream (RFC 1952), so a
/// body can be assembled from members made at different times.
pub fn gzip(data: &[u8]) -> Bytes {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 6 + 64), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    // The member is kept until its text changes: give back the room guessed too large.
    Bytes::from(enc.finish().unwrap_or_default().into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Sample;
    use std::sync::Arc;

    #[test]
    fn help_quotes_are_escaped_for_openmetrics_only() {
        let d = Desc::gauge("wechat_test_quoted", "Values like \"N/A\" are skipped.");
        let mut om = String::new();
        write_header(&mut om, &d, Format::OpenMetrics);
        assert!(om.contains(r#"# HELP wechat_test_quoted Values like \"N/A\" are skipped."#), "{om}");
        let mut text = String::new();
        write_header(&mut text, &d, Format::Text);
        assert!(text.contains(r#"# HELP wechat_test_quoted Values like "N/A" are skipped."#), "{text}");
    }

    #[test]
    fn values_are_formatted_for_both_formats() {
        let mut s = String::new();
        for v in [1.0, 0.5, 1e20, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -3.0] {
            write_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "1 0.5 100000000000000000000 +Inf -Inf NaN -3 ");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        let labels: Vec<Label> = vec![("path".into(), "a\"b\\c\nd".into())];
        write_sample(&mut s, "wechat_x", Some("we\"ird"), &labels, 2.0);
        assert_eq!(s, "wechat_x{app=\"we\\\"ird\",path=\"a\\\"b\\\\c\\nd\"} 2\n");
    }

    #[test]
    fn a_whole_exposition_joins_the_store_and_the_process_families() {
        let store = Store::new();
        let live = Live::default();
        live.observe("getPerformance", std::time::Duration::from_millis(30));
        let app: Arc<str> = Arc::from("shop");
        let c = Desc::counter("wechat_test_records", "A test counter.");
        store.replace(&app, "x", &[Sample::new(&c, 3.0)]);

        let text = String::from_utf8(render(&store, &live, Format::Text)).unwrap();
        assert!(text.starts_with("# HELP wechat_test_records_total A test counter.\n"), "{text}");
        assert!(text.contains("wechat_exporter_api_request_duration_seconds_count{api=\"getPerformance\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");

        let om = String::from_utf8(render(&store, &live, Format::OpenMetrics)).unwrap();
        assert!(om.starts_with("# HELP wechat_test_records A test counter.\n"), "{om}");
        assert!(om.contains("# TYPE process_cpu_seconds counter\n"), "{om}");
        assert!(om.ends_with("# EOF\n") && om.matches("# EOF").count() == 1, "{om}");

        // Gzipped, the members together are the same body.
        use std::io::Read as _;
        let gz = chunks(&store, &live, Format::OpenMetrics, true).concat();
        let mut plain = String::new();
        flate2::read::MultiGzDecoder::new(&gz[..]).read_to_string(&mut plain).unwrap();
        assert!(plain.starts_with("# HELP wechat_test_records A test counter.\n") && plain.ends_with("# EOF\n"));
    }
}
