//! Python-compatible CSV sniffing and reading on arbitrary text: never a panic, and linear
//! (libFuzzer's -timeout catches a quadratic path on long inputs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wazuh_aws_s3::subscriber::csv_dialect;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let first = text.split('\n').next().unwrap_or_default();
    if let Some(dialect) = csv_dialect::sniff(first) {
        let _ = csv_dialect::records(text, dialect);
    }
});
