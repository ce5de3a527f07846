//! What a validated command line asks for: `Args::validate` checks the rules argparse checks
//! after parsing and builds the `Mode`, so that nothing after `cli` parses a mode flag again.

use super::Args;
use crate::bucket::Bucket;
use crate::exit::{code, fail, Failure};
use crate::service::Service;
use crate::subscriber::Subscriber;
use std::sync::Arc;

/// The source a run reads, with what that source needs.
#[derive(Clone)]
pub enum Mode {
    /// `--bucket NAME --type TYPE`.
    Bucket { name: String, kind: Arc<dyn Bucket> },
    /// `--subscriber KIND --queue NAME`.
    Subscriber { kind: Subscriber, queue: String },
    /// `--service KIND`.
    Service(Service),
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Bucket { name, kind } => write!(f, "bucket {name} ({})", kind.info().name),
            Mode::Subscriber { kind, queue } => write!(f, "subscriber {kind:?} on {queue}"),
            Mode::Service(service) => write!(f, "service {service:?}"),
        }
    }
}

impl Args {
    /// Rules that argparse checks after parsing, with the reference's wording and in its
    /// order: the role duration, then (bucket runs) the type and the regions. Returns the
    /// mode they describe.
    pub fn validate(&self) -> anyhow::Result<Mode> {
        if self.iam_role_duration.is_some() && self.iam_role_arn.is_none() {
            return Err(fail(
                code::UNKNOWN,
                "Unknown error: Used --iam_role_duration argument but no --iam_role_arn provided.",
            ));
        }
        if let (Some(after), Some(before)) = (self.only_logs_after, self.only_logs_before) {
            if before < after {
                return Err(fail(
                    code::SIGINT_OR_BAD_ARGS,
                    format!(
                        "--only_logs_before ({}) is earlier than --only_logs_after ({}): the \
                         window would be empty.",
                        before.format("%Y-%b-%d").to_string().to_uppercase(),
                        after.format("%Y-%b-%d").to_string().to_uppercase()
                    ),
                ));
            }
        }
        if let Some(name) = &self.subscriber {
            return self.validate_subscriber(name);
        }
        if let Some(name) = &self.service {
            return match Service::from_name(name) {
                Some(service) => Ok(Mode::Service(service)),
                None => Err(fail(code::INVALID_TYPE, "Invalid type of service")),
            };
        }
        let Some(kind) = crate::bucket::for_type(self.bucket_type(), &self.trail_prefix) else {
            return Err(fail(code::INVALID_TYPE, "Invalid type of bucket"));
        };
        for region in self.regions.iter().flat_map(|l| l.0.iter()) {
            if !crate::regions::is_known(region) {
                crate::debug!(1, "+++ ERROR: Invalid region '{region}'");
                return Err(Failure::silent(code::INVALID_REGION).into());
            }
        }
        let Some(name) = self.bucket.clone() else {
            return Err(fail(
                code::SIGINT_OR_BAD_ARGS,
                "One of --bucket, --service or --subscriber is needed.",
            ));
        };
        Ok(Mode::Bucket { name, kind })
    }

    /// The subscriber's name and the flags it needs (kept 28).
    fn validate_subscriber(&self, name: &str) -> anyhow::Result<Mode> {
        let missing = |flag: &str, exit: i32| {
            fail(exit, format!("Used a subscriber but no --{flag} provided."))
        };
        let kind = Subscriber::from_name(name)
            .ok_or_else(|| fail(code::INVALID_TYPE, "Invalid type of subscriber"))?;
        let exit = match kind {
            Subscriber::SecurityLake => {
                if self.iam_role_arn.is_none() {
                    return Err(missing("iam_role_arn", code::SQS_ERROR));
                }
                code::SQS_ERROR
            }
            _ => code::INVALID_TYPE,
        };
        let Some(queue) = self.queue.clone() else {
            return Err(missing("queue", exit));
        };
        if kind == Subscriber::SecurityLake && self.external_id.is_none() {
            return Err(missing("external_id", exit));
        }
        Ok(Mode::Subscriber { kind, queue })
    }
}
