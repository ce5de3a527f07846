//! Object bytes to plain bytes as they are read: gzip (every member), zip (first entry),
//! Snappy (the framing format, or Hadoop's block format), zstd, or as is. The object's first
//! bytes choose where they are a known magic number, else the key's extension (D13: the
//! reference goes by the extension only, refuses `.snappy` and reads `.zst` as text).
//!
//! The error kinds matter: the reference reports a bad gzip, a truncated gzip and a bad zip
//! with different messages and exit codes, and `--skip_on_error` turns each into an
//! `error_msg` event with its own wording.

mod hadoop_snappy;

use crate::limits::MAX_WHOLE_OBJECT;
use flate2::read::MultiGzDecoder;
use std::fmt;
use std::io::{Cursor, ErrorKind, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zip,
    /// Snappy's framing format (`snappy-framed`).
    Snappy,
    /// Hadoop's Snappy block format.
    HadoopSnappy,
    Zstd,
    Plain,
}

/// The framing format's stream identifier chunk.
const SNAPPY_STREAM: &[u8] = b"\xff\x06\x00\x00sNaPpY";
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";
/// Bytes looked at before choosing.
const HEAD: usize = SNAPPY_STREAM.len();

impl Compression {
    pub fn of_key(key: &str) -> Compression {
        if key.ends_with(".gz") {
            Compression::Gzip
        } else if key.ends_with(".zip") {
            Compression::Zip
        } else if key.ends_with(".snappy") {
            Compression::Snappy
        } else if key.ends_with(".zst") || key.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::Plain
        }
    }

    /// What the object's first bytes announce, else what its key says; a `.snappy` key
    /// without the framing format's identifier is Hadoop's block format (it has no magic).
    pub fn of_head(head: &[u8], by_key: Compression) -> Compression {
        if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZIP_MAGIC) {
            Compression::Zip
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if head.starts_with(SNAPPY_STREAM) {
            Compression::Snappy
        } else if by_key == Compression::Snappy && !head.is_empty() {
            Compression::HadoopSnappy
        } else {
            by_key
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zip => "zip",
            Compression::Snappy => "snappy",
            Compression::HadoopSnappy => "snappy (Hadoop)",
            Compression::Zstd => "zstd",
            Compression::Plain => "plain",
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
    /// A Snappy or zstd stream that is corrupt or cut short.
    Corrupt {
        format: &'static str,
        detail: String,
    },
}

impl DecodeError {
    /// For data that is not what its format says (every case but a cut gzip stream): the
    /// format's name and the detail the reference's messages give.
    pub fn invalid_data(&self) -> Option<(&'static str, String)> {
        match self {
            DecodeError::InvalidGzip(d) => Some(("gzip", d.clone())),
            DecodeError::InvalidZip(d) => Some(("zip", d.clone())),
            DecodeError::Corrupt { format, .. } => Some((format, self.to_string())),
            DecodeError::TruncatedGzip => None,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidGzip(e) => write!(f, "invalid gzip data: {e}"),
            DecodeError::TruncatedGzip => f.write_str(
                "EOFError('Compressed file ended before the end-of-stream marker was reached')",
            ),
            DecodeError::InvalidZip(e) => write!(f, "invalid zip archive: {e}"),
            DecodeError::Corrupt { format, detail } => write!(f, "invalid {format} data: {detail}"),
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

/// Remembers the first error of a Snappy or zstd stream, as [`DecodeWatch`] does for gzip.
struct CorruptWatch {
    inner: Box<dyn Read + Send>,
    format: &'static str,
    seen: Shared<Option<DecodeError>>,
}

impl Read for CorruptWatch {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let detail = match e.kind() {
                ErrorKind::UnexpectedEof => "the stream ends before its end".to_string(),
                _ => e.to_string(),
            };
            if let Ok(mut seen) = self.seen.lock() {
                seen.get_or_insert(DecodeError::Corrupt {
                    format: self.format,
                    detail,
                });
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
    by_key: Compression,
    mut body: R,
) -> Result<Opened, DecodeError> {
    let decode_error = std::sync::Arc::new(std::sync::Mutex::new(None));
    // The first bytes, read until there are enough to tell the formats apart (a body may
    // arrive a few bytes at a time), then put back in front of the rest.
    let mut head = Vec::with_capacity(HEAD);
    while head.len() < HEAD {
        let mut byte = [0u8; HEAD];
        match body.read(&mut byte[..HEAD - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(DecodeError::InvalidGzip(e.to_string())),
        }
    }
    let compression = Compression::of_head(&head, by_key);
    let body = Cursor::new(head).chain(body);
    let corrupt = |inner: Box<dyn Read + Send>| -> Box<dyn std::io::BufRead + Send> {
        Box::new(std::io::BufReader::with_capacity(
            STREAM_BUFFER,
            CorruptWatch {
                inner,
                format: compression.name(),
                seen: decode_error.clone(),
            },
        ))
    };
    let reader: Box<dyn std::io::BufRead + Send> = match compression {
        Compression::Snappy => corrupt(Box::new(snap::read::FrameDecoder::new(body))),
        Compression::HadoopSnappy => corrupt(Box::new(hadoop_snappy::HadoopSnappy::new(body))),
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::new(body).map_err(|e| DecodeError::Corrupt {
                    format: "zstd",
                    detail: e.to_string(),
                })?;
            corrupt(Box::new(decoder))
        }
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
        let mut empty = open(Compression::Snappy, Cursor::new(Vec::new())).unwrap();
        assert_eq!(empty.decode_failure(), None, "an empty .snappy is empty");
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    fn read(by_key: Compression, data: Vec<u8>) -> Result<Vec<u8>, DecodeError> {
        let mut opened = open(by_key, Cursor::new(data))?;
        let mut out = Vec::new();
        let read = opened.reader.read_to_end(&mut out);
        match opened.decode_failure() {
            Some(e) => Err(e),
            None => read
                .map(|_| out)
                .map_err(|e| DecodeError::InvalidGzip(e.to_string())),
        }
    }

    fn framed(data: &[u8]) -> Vec<u8> {
        let mut w = snap::write::FrameEncoder::new(Vec::new());
        std::io::Write::write_all(&mut w, data).unwrap();
        w.into_inner().unwrap()
    }

    fn text() -> Vec<u8> {
        (0..20_000)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect()
    }

    #[test]
    fn snappy_zstd_and_hadoop_read_back_whatever_the_key() {
        let data = text();
        let zstd = zstd::stream::encode_all(&data[..], 3).unwrap();
        let hadoop = hadoop_snappy::encode(&data, 65536);
        for key in [Compression::Plain, Compression::Gzip, Compression::Snappy] {
            assert_eq!(read(key, framed(&data)).unwrap(), data, "framed as {key:?}");
            assert_eq!(read(key, zstd.clone()).unwrap(), data, "zstd as {key:?}");
        }
        assert_eq!(read(Compression::Snappy, hadoop).unwrap(), data);
        assert_eq!(read(Compression::Zstd, zstd).unwrap(), data);
        // A gzip body under any key is gzip; a plain body under .gz is still a bad gzip.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &data).unwrap();
        assert_eq!(read(Compression::Plain, e.finish().unwrap()).unwrap(), data);
        assert!(matches!(
            read(Compression::Gzip, data.clone()),
            Err(DecodeError::InvalidGzip(_))
        ));
        assert_eq!(read(Compression::Plain, data.clone()).unwrap(), data);
    }

    #[test]
    fn cut_and_corrupt_streams_are_corrupt() {
        let data = text();
        let zstd = zstd::stream::encode_all(&data[..], 3).unwrap();
        let snappy = framed(&data);
        for (what, whole) in [("zstd", zstd), ("snappy", snappy)] {
            let cut = whole[..whole.len() / 2].to_vec();
            assert!(
                matches!(read(Compression::Plain, cut), Err(DecodeError::Corrupt { format, .. }) if format == what),
                "{what} cut"
            );
            let mut bad = whole.clone();
            let n = bad.len();
            for b in &mut bad[20..n / 2] {
                *b ^= 0x5a;
            }
            assert!(
                matches!(
                    read(Compression::Plain, bad),
                    Err(DecodeError::Corrupt { .. })
                ),
                "{what} corrupt"
            );
        }
        let hadoop = hadoop_snappy::encode(&data, 65536);
        let cut = hadoop[..hadoop.len() - 10].to_vec();
        assert!(matches!(
            read(Compression::Snappy, cut),
            Err(DecodeError::Corrupt {
                format: "snappy (Hadoop)",
                ..
            })
        ));
    }
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
    fn a_snappy_key_that_is_not_snappy_is_corrupt() {
        assert!(matches!(
            decode(Compression::Snappy, vec![1, 2, 3]),
            Err(DecodeError::Corrupt { .. })
        ));
    }
}
