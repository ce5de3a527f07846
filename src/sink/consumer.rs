//! Who reads the queue socket, and what it lets us know: analysisd on a manager (its decode
//! queue and its AWS drop counter), agentd 4.x on an agent (its client buffer settings), or
//! nothing we can observe.

use crate::wazuh::agentd::{self, ClientBuffer};
use crate::wazuh::analysisd::{Stats, StatsClient};
use crate::wazuh::{Installation, Kind};
use std::path::Path;

/// Share of an agent's `events_per_second` we use: logcollector and the other modules send
/// through the same buffer.
pub const AGENT_EPS_SHARE: f64 = 0.75;
/// Share of an agent's buffer we fill at most.
pub const AGENT_BUFFER_SHARE: f64 = 0.5;

pub enum Consumer {
    /// analysisd answers its statistics: paced to its decode queue, and a delivery counts
    /// once a checkpoint saw no AWS drop since it was sent.
    Analysisd { stats: StatsClient, first: Stats },
    /// agentd 4.x with its client buffer: paced to a share of its rate and size.
    AgentBuffer {
        buffer: ClientBuffer,
        /// Messages in the buffer at the start, from its state file.
        buffered: Option<u64>,
    },
    /// Nothing tells what happens to a message past the socket.
    Unobserved(String),
}

impl Consumer {
    /// Ask the installation whose queue socket is `queue_socket`. analysisd's statistics
    /// socket sits beside the queue socket.
    pub fn detect(install: &Installation, queue_socket: &Path) -> Consumer {
        let stats_path = queue_socket.with_file_name("analysis");
        let (kind, major) = install.kind();
        if kind == Kind::Agent {
            return Self::agent(install, major);
        }
        let stats = StatsClient::new(&stats_path);
        match stats.get() {
            Ok(first) => Consumer::Analysisd { stats, first },
            Err(e) => {
                Consumer::Unobserved(format!("analysisd's statistics are not available ({e})"))
            }
        }
    }

    fn agent(install: &Installation, major: Option<u32>) -> Consumer {
        if major.is_some_and(|m| m >= 5) {
            return Consumer::Unobserved(
                "a Wazuh 5 agent: its event accumulator tells nothing of what it kept".into(),
            );
        }
        let buffer = ClientBuffer::read(&install.root);
        if buffer.disabled {
            return Consumer::Unobserved(
                "an agent whose client buffer is disabled: messages go to the manager as they come"
                    .into(),
            );
        }
        Consumer::AgentBuffer {
            buffer,
            buffered: agentd::buffered_now(&install.root),
        }
    }

    /// The `DEBUG:` line that says which pacing is in force, and why.
    pub fn describe(&self, max_eps: Option<u32>) -> String {
        let cap = match max_eps {
            Some(n) => format!("; at most {n} events/s (--max_eps)"),
            None => String::new(),
        };
        match self {
            Consumer::Analysisd { stats, first } => format!(
                "Pacing: analysisd ({}): its event queue ({} slots, {} in use) kept under {:.0}% \
                 full; objects are recorded once a checkpoint saw no AWS event dropped{cap}",
                stats.path().display(),
                first.queue_size,
                first.queued,
                super::pace::QUEUE_TARGET * 100.0
            ),
            Consumer::AgentBuffer { buffer, buffered } => format!(
                "Pacing: agent client buffer of {} messages at {} events/s{}: at most {:.0} \
                 events/s and {:.0} messages ahead{cap}",
                buffer.queue_size,
                buffer.events_per_second,
                buffered.map_or(String::new(), |b| format!(" ({b} buffered)")),
                buffer.events_per_second as f64 * AGENT_EPS_SHARE,
                buffer.queue_size as f64 * AGENT_BUFFER_SHARE,
            ),
            Consumer::Unobserved(why) => format!(
                "Pacing: none from Wazuh, {why}; a message counts as delivered once the queue \
                 socket took it{cap}"
            ),
        }
    }
}
