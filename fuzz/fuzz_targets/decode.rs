//! Streaming decompression on arbitrary bytes: gzip, zip, plain; errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use wazuh_aws_s3::decode::{open, Compression};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let compression = [Compression::Gzip, Compression::Zip, Compression::Plain][pick as usize % 3];
    if let Ok(mut opened) = open(compression, std::io::Cursor::new(body.to_vec())) {
        // Bounded: a small input can inflate a lot; the cap keeps a run quick.
        let mut out = Vec::new();
        let _ = (&mut opened.reader).take(64 << 20).read_to_end(&mut out);
        let _ = opened.decode_failure();
    }
});
