//! The Parquet footer check on arbitrary bytes: an error or Ok, never a panic or a deep
//! recursion; whatever it accepts the parquet crate then opens without overflowing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wazuh_aws_s3::subscriber::parquet_footer;

fuzz_target!(|data: &[u8]| {
    let _ = parquet_footer::check(data);
    // The same bytes framed as a footer: the Thrift reader is what is fuzzed.
    let mut framed = b"PAR1".to_vec();
    framed.extend_from_slice(data);
    framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    framed.extend_from_slice(b"PAR1");
    let _ = parquet_footer::check(&framed);
});
