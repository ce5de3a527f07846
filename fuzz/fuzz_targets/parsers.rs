//! Every bucket type's parser and reshaping on arbitrary bytes: the first byte picks the type
//! (and whether --skip_on_error is set), the rest is the decompressed object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wazuh_aws_s3::bucket::{self, ParseContext};
use wazuh_aws_s3::message::{envelope, Origin};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let names: Vec<&str> = bucket::type_names().collect();
    let name = names[pick as usize % names.len()];
    let Some(t) = bucket::for_type(name, "logs/dnslogs/") else { return };
    let key = if pick & 0x80 != 0 { "a/b.jsonl.gz" } else { "a/b.log" };
    let ctx = ParseContext { skip_on_error: pick & 0x40 != 0 };
    let origin = Origin { bucket: "b", account_alias: Some(""), log_key: key, account_id: Some("111122223333") };
    let mut input = body;
    let _ = t.parse_stream(key, &mut input, ctx, &mut |e| {
        for out in t.reshape(envelope(&origin, e)) {
            let mut text = Vec::new();
            wazuh_aws_s3::json::write_value(&mut text, &out);
        }
        Ok(())
    });
});
