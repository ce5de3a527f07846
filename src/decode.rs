//! Object bytes to plain bytes as they are read: gzip (every member), zip (first entry) or as
//! is, chosen by the key's extension as the reference does. `.snappy` is refused, as the reference refuses it.
//!
//! The error kinds matter: the reference reports a bad gzip, a truncated gzip and a bad zip
//! with different messages and exit codes, and `--skip_on_error` turns each into an
//! `error_msg` event with its own wording.

use crate::limits::MAX_WHOLE_OBJECT;
use flate2::read::MultiGzDecoder;
use std::fmt;
use std::io::{Cursor, ErrorKind, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zip,
    Snappy,
    Plain,
}

impl Compression {
    pub fn of_key(key: &str) -> Compression {
        if key.ends_with(".gz") {
            Compression::Gzip
        } else if key.ends_with(".zip") {
            Compression::Zip
        } else if key.ends_with(".snappy") {
            Compression::Snappy
        } else {
            Compression::Plain
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not gzip data, or a corrupt deflate stream.
    InvalidGzip(String),
    /// The gzip stream ends before its end-of-stream marker.
    TruncatedGzip,
    InvalidZip(String),
    SnappyUnsupported,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidGzip(e) => write!(f, "invalid gzip data: {e}"),
            DecodeError::TruncatedGzip => f.write_str(
                "EOFError('Compressed file ended before the end-of-stream marker was reached')",
            ),
            DecodeError::InvalidZip(e) => write!(f, "invalid zip archive: {e}"),
            DecodeError::SnappyUnsupported => f.write_str("snappy compression is not supported"),
        }
    }
}

impl std::error::Error for DecodeError {}

fn over_limit(what: &str) -> DecodeError {
    DecodeError::InvalidZip(format!(
        "{what} is larger than {} MiB, the limit for objects read whole",
        MAX_WHOLE_OBJECT / (1024 * 1024)
    ))
}

fn unzip_first(data: Vec<u8>) -> Result<Vec<u8>, DecodeError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
    if archive.is_empty() {
        return Err(DecodeError::InvalidZip("the archive has no entries".into()));
    }
    let entry = archive
        .by_index(0)
        .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
    let mut out = Vec::new();
    entry
        .take(MAX_WHOLE_OBJECT as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
    if out.len() > MAX_WHOLE_OBJECT {
        return Err(over_limit("its first entry"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// An object decompressed whole through the streaming reader, or its error.
    fn decode(compression: Compression, data: Vec<u8>) -> Result<Vec<u8>, DecodeError> {
        let mut opened = open(compression, Cursor::new(data))?;
        let mut out = Vec::new();
        let read = opened.reader.read_to_end(&mut out);
        match opened.decode_failure() {
            Some(e) => Err(e),
            None => {
                read.expect("no decode failure, so the read succeeded");
                Ok(out)
            }
        }
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn extension_picks_compression() {
        assert_eq!(Compression::of_key("a/b.json.gz"), Compression::Gzip);
        assert_eq!(Compression::of_key("a/b.zip"), Compression::Zip);
        assert_eq!(Compression::of_key("a/b.snappy"), Compression::Snappy);
        assert_eq!(Compression::of_key("a/b.json"), Compression::Plain);
    }

    #[test]
    fn gzip_members_are_concatenated() {
        let mut data = gz(b"first ");
        data.extend(gz(b"second"));
        assert_eq!(decode(Compression::Gzip, data).unwrap(), b"first second");
    }

    #[test]
    fn gzip_errors_are_told_apart() {
        let full = gz(&vec![b'a'; 10_000]);
        let truncated = full[..full.len() / 2].to_vec();
        assert_eq!(
            decode(Compression::Gzip, truncated),
            Err(DecodeError::TruncatedGzip)
        );
        assert!(matches!(
            decode(Compression::Gzip, b"plain text".to_vec()),
            Err(DecodeError::InvalidGzip(_))
        ));
        let mut garbage = vec![0x1f, 0x8b, 0x08, 0x00];
        garbage.extend_from_slice(b"garbage-not-deflate-data-at-all");
        assert!(matches!(
            decode(Compression::Gzip, garbage),
            Err(DecodeError::InvalidGzip(_)) | Err(DecodeError::TruncatedGzip)
        ));
    }

    #[test]
    fn zip_first_entry_and_bad_zip() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            w.start_file("one.json", opts).unwrap();
            w.write_all(b"{\"Records\":[]}").unwrap();
            w.start_file("two.json", opts).unwrap();
            w.write_all(b"ignored").unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            decode(Compression::Zip, buf.into_inner()).unwrap(),
            b"{\"Records\":[]}"
        );
        assert!(matches!(
            decode(Compression::Zip, b"nope".to_vec()),
            Err(DecodeError::InvalidZip(_))
        ));
    }

    #[test]
    fn snappy_is_refused() {
        assert_eq!(
            decode(Compression::Snappy, vec![1, 2, 3]),
            Err(DecodeError::SnappyUnsupported)
        );
    }
}

type Shared<T> = std::sync::Arc<std::sync::Mutex<T>>;

/// Keeps the first two bytes of a compressed stream: data that does not start with the gzip
/// magic is "not gzip" (Python's BadGzipFile) even when it is too short for a header.
struct Magic<R> {
    inner: R,
    head: Shared<Vec<u8>>,
}

impl<R: Read> Read for Magic<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut head) = self.head.lock() {
            let missing = 2usize.saturating_sub(head.len()).min(n);
            head.extend_from_slice(&buf[..missing]);
        }
        Ok(n)
    }
}

/// Remembers the first decompression error seen by the reader it wraps, so that the caller
/// can tell a bad gzip stream from bad content once the parser has stopped on the I/O error.
pub struct DecodeWatch<R> {
    inner: R,
    seen: Shared<Option<DecodeError>>,
    head: Shared<Vec<u8>>,
}

impl<R: Read> Read for DecodeWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.inner.read(buf);
        // An empty object is empty text for Python's gzip module, not an error.
        if result.is_err() && self.head.lock().map(|h| h.is_empty()).unwrap_or(false) {
            return Ok(0);
        }
        result.inspect_err(|e| {
            let not_gzip = self
                .head
                .lock()
                .map(|h| !h.is_empty() && !b"\x1f\x8b".starts_with(&h[..]))
                .unwrap_or(false);
            let kind = if not_gzip {
                DecodeError::InvalidGzip("not a gzipped file".into())
            } else if e.kind() == ErrorKind::UnexpectedEof {
                DecodeError::TruncatedGzip
            } else {
                DecodeError::InvalidGzip(e.to_string())
            };
            if let Ok(mut seen) = self.seen.lock() {
                seen.get_or_insert(kind);
            }
        })
    }
}

/// A decompressed view of an object being read, and where its decompression errors go.
pub struct Opened {
    pub reader: Box<dyn std::io::BufRead + Send>,
    pub decode_error: std::sync::Arc<std::sync::Mutex<Option<DecodeError>>>,
}

impl Opened {
    /// The decompression error, if the stream had one; read to the end first, so that a bad
    /// stream is reported as such even when the parser stopped earlier on what it read (the
    /// reference decompresses whole objects before parsing).
    pub fn decode_failure(&mut self) -> Option<DecodeError> {
        if let Some(e) = self.decode_error.lock().ok().and_then(|s| s.clone()) {
            return Some(e);
        }
        let _ = std::io::copy(&mut self.reader, &mut std::io::sink());
        self.decode_error.lock().ok().and_then(|s| s.clone())
    }
}

/// Size of the buffer between decompression and the parsers.
const STREAM_BUFFER: usize = 256 * 1024;

/// Open an object for streaming: gzip and plain objects are decompressed as they are read;
/// a zip archive is read whole (its directory is at the end) and its first entry served.
pub fn open<R: Read + Send + 'static>(
    compression: Compression,
    body: R,
) -> Result<Opened, DecodeError> {
    let decode_error = std::sync::Arc::new(std::sync::Mutex::new(None));
    let reader: Box<dyn std::io::BufRead + Send> = match compression {
        Compression::Snappy => return Err(DecodeError::SnappyUnsupported),
        Compression::Plain => Box::new(std::io::BufReader::with_capacity(STREAM_BUFFER, body)),
        Compression::Gzip => {
            let head = Shared::default();
            let raw = Magic {
                inner: body,
                head: head.clone(),
            };
            Box::new(std::io::BufReader::with_capacity(
                STREAM_BUFFER,
                DecodeWatch {
                    inner: MultiGzDecoder::new(std::io::BufReader::with_capacity(
                        STREAM_BUFFER,
                        raw,
                    )),
                    seen: decode_error.clone(),
                    head,
                },
            ))
        }
        Compression::Zip => {
            // The directory is at the end: the archive is held, within the limit of objects
            // read whole, and so is its first entry, inflated.
            let mut data = Vec::new();
            body.take(MAX_WHOLE_OBJECT as u64 + 1)
                .read_to_end(&mut data)
                .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
            if data.len() > MAX_WHOLE_OBJECT {
                return Err(over_limit("the archive"));
            }
            Box::new(Cursor::new(unzip_first(data)?))
        }
    };
    Ok(Opened {
        reader,
        decode_error,
    })
}

#[cfg(test)]
mod streaming_tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::{BufRead, Write};

    #[test]
    fn gzip_streams_and_reports_its_errors() {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..10_000 {
            writeln!(e, "line {i}").unwrap();
        }
        let full = e.finish().unwrap();
        let mut opened = open(Compression::Gzip, Cursor::new(full.clone())).unwrap();
        assert_eq!(opened.reader.by_ref().lines().count(), 10_000);
        assert_eq!(opened.decode_failure(), None);

        let mut cut = open(
            Compression::Gzip,
            Cursor::new(full[..full.len() / 2].to_vec()),
        )
        .unwrap();
        let mut first = String::new();
        cut.reader.read_line(&mut first).unwrap();
        assert_eq!(first, "line 0\n");
        assert_eq!(cut.decode_failure(), Some(DecodeError::TruncatedGzip));

        for not_gzip in [&b"not gzip"[..], b"x", b"plain text, longer than a header"] {
            let mut bad = open(Compression::Gzip, Cursor::new(not_gzip.to_vec())).unwrap();
            assert!(matches!(
                bad.decode_failure(),
                Some(DecodeError::InvalidGzip(_))
            ));
        }
        let mut empty = open(Compression::Gzip, Cursor::new(Vec::new())).unwrap();
        assert_eq!(
            empty.decode_failure(),
            None,
            "an empty .gz is empty text, as in Python"
        );
        assert!(matches!(
            open(Compression::Snappy, Cursor::new(Vec::new())),
            Err(DecodeError::SnappyUnsupported)
        ));
    }
}
