//! A string that must never be printed (an AppSecret or an access_token), and the
//! careful reading of the small files that hold one.

use std::fmt;
use std::io::Read as _;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Holds a secret. `Debug` and `Display` print a placeholder, so a secret inside a
/// config struct, an error or a log field cannot leak by formatting; only
/// [`Secret::expose`] gives the value, at the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces every occurrence of `secret` in `text`, for text that came from outside
/// (an errmsg that might echo a token back).
pub fn scrub(text: &str, secret: &Secret) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    text.replace(secret.expose(), "<redacted>")
}

/// A secret or token file holds one short value: an AppSecret is 32 characters, an
/// access_token at most 512.
pub const MAX_FILE_BYTES: u64 = 4096;
/// A read that takes longer is stuck (a hung network mount, a FUSE file).
pub const FILE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a secret or token file could not be read. Never holds the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than {limit} bytes; a secret or token file holds one short value")]
    TooLarge { path: String, limit: u64 },
    #[error("reading {path} did not finish within {}s", timeout.as_secs())]
    Timeout { path: String, timeout: Duration },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
}

/// Reads a small regular file whole: at most [`MAX_FILE_BYTES`], within [`FILE_TIMEOUT`].
/// A FIFO, a device, a directory or a huge file is refused before any of it is read.
pub fn read_file(path: &Path) -> Result<String, FileError> {
    read_file_with(path, MAX_FILE_BYTES, FILE_TIMEOUT)
}

pub fn read_file_with(path: &Path, limit: u64, timeout: Duration) -> Result<String, FileError> {
    let owned = path.to_path_buf();
    match with_timeout(timeout, move || read_capped(&owned, limit)) {
        Some(result) => result,
        None => Err(FileError::Timeout { path: path.display().to_string(), timeout }),
    }
}

fn read_capped(path: &Path, limit: u64) -> Result<String, FileError> {
    let name = || path.display().to_string();
    let io = |e: std::io::Error| FileError::Io { path: name(), detail: e.to_string() };
    // Looked at before opening: opening a FIFO would wait for a writer.
    check_regular(path, &std::fs::metadata(path).map_err(io)?, limit)?;
    let file = std::fs::File::open(path).map_err(io)?;
    // And again on what was opened, in case the name now points elsewhere.
    check_regular(path, &file.metadata().map_err(io)?, limit)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { path: name(), limit });
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText { path: name() })
}

fn check_regular(path: &Path, meta: &std::fs::Metadata, limit: u64) -> Result<(), FileError> {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if !t.is_file() {
        let kind = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "something else"
        };
        return Err(FileError::NotRegular { path: path.display().to_string(), kind });
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { path: path.display().to_string(), limit });
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// The thread that reads files, with a number so a stuck one is replaced only once.
static READER: Mutex<Option<(u64, mpsc::Sender<Job>)>> = Mutex::new(None);

/// Runs `f` on the reader thread and waits at most `timeout` for it. A read that
/// hangs is left to its thread, and later reads get a new one: the caller (the
/// config loader, a token refresh) never waits longer than `timeout`.
fn with_timeout<T: Send + 'static>(timeout: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    let (id, sender) = {
        let mut reader = READER.lock().unwrap_or_else(|e| e.into_inner());
        if reader.is_none() {
            let (s, r) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new().name("file-reader".into()).spawn(move || {
                for job in r {
                    job();
                }
            });
            if spawned.is_err() {
                return None;
            }
            let next = READER_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            *reader = Some((next, s));
        }
        reader.clone()?
    };
    if sender.send(job).is_err() {
        return None;
    }
    match rx.recv_timeout(timeout) {
        Ok(v) => Some(v),
        Err(_) => {
            let mut reader = READER.lock().unwrap_or_else(|e| e.into_inner());
            if reader.as_ref().is_some_and(|(current, _)| *current == id) {
                *reader = None;
            }
            None
        }
    }
}

static READER_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2-secret");
        assert!(!format!("{s:?} {s} {:?}", Some(&s)).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-secret");
        assert_eq!(scrub("token hunter2-secret bad", &s), "token <redacted> bad");
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("wechat-exporter-secret-{}-{}", std::process::id(), fastrand::u32(..)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let d = dir();
        let good = d.join("good");
        std::fs::write(&good, "abc\n").unwrap();
        assert_eq!(read_file(&good).unwrap(), "abc\n");

        let big = d.join("big");
        std::fs::write(&big, "s3cr3t".repeat(1000)).unwrap();
        let e = read_file(&big).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { .. }), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");

        let e = read_file(&d).unwrap_err();
        assert_eq!(e, FileError::NotRegular { path: d.display().to_string(), kind: "a directory" });
        let e = read_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("/dev/zero is a character device, not a regular file"), "{e}");
        let e = read_file(&d.join("missing")).unwrap_err();
        assert!(e.to_string().starts_with("cannot read"), "{e}");
        std::fs::write(d.join("bin"), [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(read_file(&d.join("bin")), Err(FileError::NotText { .. })));
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let d = dir();
        let fifo = d.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let e = read_file(&fifo).unwrap_err();
        assert!(e.to_string().ends_with("is a FIFO, not a regular file"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_read_that_hangs_times_out_and_the_next_one_works() {
        let stuck = with_timeout(Duration::from_millis(50), || std::thread::sleep(Duration::from_secs(2)));
        assert!(stuck.is_none());
        assert_eq!(with_timeout(Duration::from_secs(5), || 7), Some(7), "a new reader took over");
    }
}
