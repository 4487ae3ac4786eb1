//! Files that run for months: a span-log file rotated by size or by the hour/day (UTC), the last
//! `keep` rotated files kept (`spans.jsonl.1` the newest), optionally gzip-compressed
//! (`spans.jsonl.1.gz`). Rotation happens between two writes, and every write is a whole batch
//! of lines, so no line is ever split across files. The `tracewire` CLI reads the set through a
//! glob (`spans.jsonl*`), compressed files included.
//!
//! Written here rather than taken from `file-rotate`: that crate panics when the directory
//! cannot be created and discards writes silently when the file cannot be reopened — the two
//! things a span log must never do. Here every failure is an `io::Error` the writer counts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// When a file is rotated (`TRACEWIRE_SPAN_LOG_ROTATE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RotateWhen {
    /// Never (the default): one file, appended to.
    #[default]
    Never,
    /// Before a write that would take the file past this many bytes (`64MiB`, `500MB`…).
    Size(u64),
    /// At the first write of a new hour (UTC).
    Hourly,
    /// At the first write of a new day (UTC).
    Daily,
}

/// How a span-log file rotates: when, how many rotated files are kept, compressed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// When to rotate.
    pub when: RotateWhen,
    /// Rotated files kept besides the current one (`TRACEWIRE_SPAN_LOG_KEEP`, default 10);
    /// older ones are deleted.
    pub keep: usize,
    /// Gzip rotated files (`TRACEWIRE_SPAN_LOG_COMPRESS=gzip`).
    pub compress: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            when: RotateWhen::Never,
            keep: 10,
            compress: false,
        }
    }
}

impl RotateWhen {
    /// Parses `never`, `hourly`, `daily` or a size: a number with an optional unit (`B`, `KB`,
    /// `MB`, `GB`, `KiB`, `MiB`, `GiB`).
    pub fn parse(value: &str) -> Option<RotateWhen> {
        let v = value.trim();
        match v.to_ascii_lowercase().as_str() {
            "never" | "off" | "none" => return Some(RotateWhen::Never),
            "hourly" => return Some(RotateWhen::Hourly),
            "daily" => return Some(RotateWhen::Daily),
            _ => {}
        }
        let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
        let (number, unit) = v.split_at(split);
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            _ => return None,
        };
        let bytes = number.parse::<u64>().ok()?.checked_mul(scale)?;
        (bytes > 0).then_some(RotateWhen::Size(bytes))
    }

    /// The hour or day a time falls in (None: no time-based rotation).
    fn period(&self, t: SystemTime) -> Option<u64> {
        let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        match self {
            RotateWhen::Hourly => Some(secs / 3600),
            RotateWhen::Daily => Some(secs / 86_400),
            _ => None,
        }
    }
}

/// A file appended to, rotated as its [`Rotation`] says.
pub(crate) struct RotatingFile {
    path: PathBuf,
    rotation: Rotation,
    file: Option<File>,
    size: u64,
    period: Option<u64>,
}

impl RotatingFile {
    /// Opens (creates, appends to) `path`; a file left from an earlier run keeps its size and
    /// its period (its modification time), so a restart rotates an old file.
    pub(crate) fn open(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let mut f = RotatingFile {
            path: path.to_owned(),
            rotation,
            file: None,
            size: 0,
            period: None,
        };
        f.reopen()?;
        Ok(f)
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let meta = file.metadata()?;
        self.size = meta.len();
        self.period =
            (self.rotation.when).period(meta.modified().unwrap_or_else(|_| SystemTime::now()));
        self.file = Some(file);
        Ok(())
    }

    fn due(&self, len: usize) -> bool {
        match self.rotation.when {
            RotateWhen::Never => false,
            RotateWhen::Size(limit) => self.size > 0 && self.size + len as u64 > limit,
            when => self.size > 0 && when.period(SystemTime::now()) != self.period,
        }
    }

    /// `path.N` (or `path.N.gz`).
    fn rotated(&self, n: usize, gz: bool) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}{}", if gz { ".gz" } else { "" }));
        PathBuf::from(name)
    }

    /// Shifts `path.1`… up by one (dropping the oldest beyond `keep`), moves the current file to
    /// `path.1` (compressing it on request) and starts a new one.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        let keep = self.rotation.keep;
        for gz in [false, true] {
            remove_if_present(&self.rotated(keep.max(1), gz))?;
        }
        for n in (1..keep).rev() {
            for gz in [false, true] {
                let from = self.rotated(n, gz);
                if from.exists() {
                    fs::rename(&from, self.rotated(n + 1, gz))?;
                }
            }
        }
        if keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            let first = self.rotated(1, false);
            fs::rename(&self.path, &first)?;
            if self.rotation.compress {
                gzip(&first, &self.rotated(1, true))?;
            }
        }
        self.reopen()
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Compresses `from` into `to`, then removes `from`.
fn gzip(from: &Path, to: &Path) -> io::Result<()> {
    let mut encoder = flate2::write::GzEncoder::new(File::create(to)?, flate2::Compression::fast());
    io::copy(&mut File::open(from)?, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    fs::remove_file(from)
}

impl Write for RotatingFile {
    /// Writes all of `buf` to one file: callers hand whole lines.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.due(buf.len()) {
            self.rotate()?;
        }
        if self.file.is_none() {
            self.reopen()?; // after a failed rotation, or the file was deleted
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("no file"))?;
        file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_periods_parse() {
        assert_eq!(RotateWhen::parse("64MiB"), Some(RotateWhen::Size(64 << 20)));
        assert_eq!(
            RotateWhen::parse("500 MB"),
            Some(RotateWhen::Size(500_000_000))
        );
        assert_eq!(RotateWhen::parse("4096"), Some(RotateWhen::Size(4096)));
        assert_eq!(RotateWhen::parse("daily"), Some(RotateWhen::Daily));
        assert_eq!(RotateWhen::parse("never"), Some(RotateWhen::Never));
        assert_eq!(RotateWhen::parse("0"), None);
        assert_eq!(RotateWhen::parse("12 parsecs"), None);
        assert_eq!(RotateWhen::parse("99999999999999999999GiB"), None);
    }

    #[test]
    fn a_size_rotation_keeps_whole_writes_and_the_last_files() {
        let dir = std::env::temp_dir().join(format!("tracewire-rotate-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spans.jsonl");
        let rotation = Rotation {
            when: RotateWhen::Size(100),
            keep: 2,
            compress: false,
        };
        let mut f = RotatingFile::open(&path, rotation).unwrap();
        for i in 0..10 {
            f.write_all(format!("{:039}\n", i).as_bytes()).unwrap(); // 40 bytes
        }
        // 2 writes a file: 0-1, 2-3, 4-5, 6-7, 8-9; only the current and 2 rotated remain.
        let read = |p: PathBuf| fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()).lines().count(), 2);
        assert!(read(dir.join("spans.jsonl.1")).starts_with(&format!("{:039}", 6)));
        assert!(read(dir.join("spans.jsonl.2")).starts_with(&format!("{:039}", 4)));
        assert!(!dir.join("spans.jsonl.3").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
