// A read-only S3 for the bench's listing-heavy scenario (8): ListObjectsV2 (prefix,
// delimiter, start-after, continuation-token, max-keys), GetObject and HeadBucket, path
// style, from a folder indexed once in memory. s3s-fs walks the whole bucket folder for every
// listing (about 100 ms per listing over 5,100 objects on 2 cores), which would measure it,
// not the collector. Built by bench/run with plain rustc; std only. No authentication.
//
//   s3-stub PORT ROOT   (ROOT/BUCKET/KEY...; prints "ready")
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Index = BTreeMap<String, BTreeMap<String, PathBuf>>;

fn index(root: &Path) -> Index {
    let mut buckets = Index::new();
    for bucket in std::fs::read_dir(root).unwrap().flatten() {
        let name = bucket.file_name().to_string_lossy().into_owned();
        let mut keys = BTreeMap::new();
        let mut dirs = vec![bucket.path()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let key = path.strip_prefix(bucket.path()).unwrap().to_string_lossy().into_owned();
                    keys.insert(key, path);
                }
            }
        }
        buckets.insert(name, keys);
    }
    buckets
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amz-request-id: stub\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

fn list(keys: &BTreeMap<String, PathBuf>, q: &BTreeMap<String, String>) -> String {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let delimiter = q.get("delimiter").cloned().filter(|d| !d.is_empty());
    let max_keys: usize = q.get("max-keys").and_then(|m| m.parse().ok()).unwrap_or(1000);
    let after = match (q.get("continuation-token"), q.get("start-after")) {
        (Some(c), Some(s)) => Some(c.max(s).clone()),
        (Some(c), None) => Some(c.clone()),
        (None, Some(s)) => Some(s.clone()),
        (None, None) => None,
    };
    let start = match &after {
        Some(a) if a.as_str() >= prefix.as_str() => std::ops::Bound::Excluded(a.clone()),
        _ => std::ops::Bound::Included(prefix.clone()),
    };
    let mut contents = String::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0;
    let mut last = String::new();
    let mut truncated = false;
    for (key, path) in keys.range((start, std::ops::Bound::Unbounded)) {
        if !key.starts_with(&prefix) {
            break;
        }
        if count == max_keys {
            truncated = true;
            break;
        }
        if let Some(d) = &delimiter {
            if let Some(pos) = key[prefix.len()..].find(d.as_str()) {
                let common = key[..prefix.len() + pos + d.len()].to_string();
                if prefixes.last() != Some(&common) {
                    prefixes.push(common.clone());
                    count += 1;
                }
                last = common;
                continue;
            }
        }
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>2024-03-15T10:00:00.000Z</LastModified><ETag>\"x\"</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(key)
        ));
        count += 1;
        last = key.clone();
    }
    // A common prefix reached again past the limit is not a reason to continue.
    let token = if truncated {
        format!("<NextContinuationToken>{}</NextContinuationToken>", xml_escape(&last))
    } else {
        String::new()
    };
    let common: String = prefixes
        .iter()
        .map(|p| format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", xml_escape(p)))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>{}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>{contents}{common}{token}</ListBucketResult>",
        xml_escape(&prefix)
    )
}

fn serve(stream: TcpStream, index: Arc<Index>) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/").to_string());
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let q: BTreeMap<String, String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        let path = decode(path.trim_start_matches('/'));
        let (bucket, key) = path.split_once('/').unwrap_or((&path, ""));
        let Some(keys) = index.get(bucket) else {
            respond(&mut out, "404 Not Found", "application/xml", b"<Error><Code>NoSuchBucket</Code></Error>")?;
            continue;
        };
        if key.is_empty() {
            if method == "HEAD" {
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
            } else {
                respond(&mut out, "200 OK", "application/xml", list(keys, &q).as_bytes())?;
            }
            continue;
        }
        match keys.get(key).and_then(|p| std::fs::read(p).ok()) {
            Some(data) if method == "HEAD" => {
                out.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).as_bytes())?
            }
            Some(data) => respond(&mut out, "200 OK", "application/octet-stream", &data)?,
            None => respond(&mut out, "404 Not Found", "application/xml", b"<Error><Code>NoSuchKey</Code></Error>")?,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (port, root) = (&args[1], PathBuf::from(&args[2]));
    let index = Arc::new(index(&root));
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).expect("bind");
    println!("ready");
    for stream in listener.incoming().flatten() {
        let index = index.clone();
        std::thread::spawn(move || serve(stream, index));
    }
}
