//! Object bytes to plain bytes: gzip (every member), zip (first entry) or as is, chosen by the
//! key's extension as the reference does. `.snappy` is refused, as the reference refuses it.
//!
//! The error kinds matter: the reference reports a bad gzip, a truncated gzip and a bad zip
//! with different messages and exit codes, and `--skip_on_error` turns each into an
//! `error_msg` event with its own wording.

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

/// Decompress a whole object.
pub fn decode(compression: Compression, data: Vec<u8>) -> Result<Vec<u8>, DecodeError> {
    match compression {
        Compression::Plain => Ok(data),
        Compression::Snappy => Err(DecodeError::SnappyUnsupported),
        Compression::Gzip => gunzip(&data),
        Compression::Zip => unzip_first(data),
    }
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(8));
    match MultiGzDecoder::new(data).read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(DecodeError::TruncatedGzip),
        Err(e) => Err(DecodeError::InvalidGzip(e.to_string())),
    }
}

fn unzip_first(data: Vec<u8>) -> Result<Vec<u8>, DecodeError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
    if archive.is_empty() {
        return Err(DecodeError::InvalidZip("the archive has no entries".into()));
    }
    let mut entry = archive
        .by_index(0)
        .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
    let mut out = Vec::new();
    entry
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::InvalidZip(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

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
