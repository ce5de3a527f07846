//! What a validated command line asks for: the built mode, so that nothing after `cli`
//! parses or checks a mode flag again.

use crate::bucket::Bucket;
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
