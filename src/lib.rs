//! wazuh-aws-s3: the collector behind the `aws-s3` binary, as a library so that its parsers
//! and decoders can be fuzzed and benchmarked on their own.
//!
//! An object's way: `cli` (validated arguments, the `Mode`) -> `options` (what each part is
//! given) -> `run` (clients, state, sink) -> a `source` (which objects) -> `pipeline` (fetch,
//! decode, the `bucket` type's parser, reshape, filter, batches) -> `pipeline::delivery` ->
//! `sink` (paced to the consumer, confirmed on a manager) -> back to the source, which
//! finishes the object (records it) once the sink confirmed it. `operator` holds `--check`
//! and `--status`, which a person runs at a shell.
//!
//! Codes the comments cite, all explained in `tests/conformance/REFERENCE-QUIRKS.md`:
//! - `Dn`: a reference bug of the bucket types that we fix on purpose (D1-D15);
//! - `Sn`: the same for the SQS subscribers and the services (S1-S8);
//! - `kept n`: a reference oddity reproduced on purpose because rules, wazuh-modulesd or
//!   existing state files depend on it (1-19 bucket types, 20-34 subscribers and services).

pub mod aws;
pub mod bucket;
pub mod cli;
pub mod decode;
pub mod exit;
pub mod json;
pub mod limits;
pub mod log;
pub mod message;
pub mod operator;
pub mod options;
pub mod pipeline;
pub mod queue;
pub mod regions;
pub mod run;
pub mod run_lock;
pub mod service;
pub mod shrink;
pub mod sink;
pub mod source;
pub mod state;
pub mod stop;
pub mod subscriber;
pub mod summary;
pub mod wazuh;
