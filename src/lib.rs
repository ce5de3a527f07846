//! wazuh-aws-s3: the collector behind the `aws-s3` binary, as a library so that its parsers
//! and decoders can be fuzzed and benchmarked on their own.

pub mod app;
pub mod aws;
pub mod bucket;
pub mod cli;
pub mod decode;
pub mod exit;
pub mod json;
pub mod log;
pub mod message;
pub mod queue;
pub mod regions;
pub mod state;
pub mod wazuh;
