//! What wazuh-agentd's client buffer can take (wazuh v4.14.7 `src/client-agent/buffer.c`,
//! `config.c`, `state.c`): agentd reads the queue socket without blocking into a ring of
//! `queue_size` messages and drops a message when the ring is full, with no counter; a thread
//! empties the ring towards the manager at `events_per_second`. Nothing on the agent answers
//! how many of our messages were kept, so the settings are all we can pace to.

use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

/// `<client_buffer>` as agentd reads it from ossec.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientBuffer {
    /// `<disabled>yes</disabled>`: no ring; messages go straight to the manager.
    pub disabled: bool,
    /// Messages the ring holds (1..100000; default 5000).
    pub queue_size: u64,
    /// Messages sent on per second (1..1000, at least `agent.min_eps`; default 500).
    pub events_per_second: u64,
}

impl Default for ClientBuffer {
    fn default() -> Self {
        ClientBuffer {
            disabled: false,
            queue_size: 5000,
            events_per_second: 500,
        }
    }
}

/// agentd's floor for `events_per_second` (`agent.min_eps`, internal options; default 50).
const DEFAULT_MIN_EPS: u64 = 50;
/// agentd rewrites its state file every 5 s (`agent.state_interval`); an older one is from
/// an agent that is not running, or runs without it.
const STATE_FRESH: Duration = Duration::from_secs(30);

static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<!--.*?-->").unwrap());
static BLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<client_buffer>(.*?)</client_buffer>").unwrap());

fn element<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = block.find(&open)? + open.len();
    let end = block[start..].find(&format!("</{name}>"))? + start;
    Some(block[start..end].trim())
}

impl ClientBuffer {
    /// The settings of `<root>/etc/ossec.conf` (the last value of each wins, as agentd reads
    /// the blocks in order), agentd's defaults for what is absent or out of range.
    pub fn read(root: &Path) -> Self {
        let conf = std::fs::read_to_string(root.join("etc/ossec.conf")).unwrap_or_default();
        let min_eps = min_eps(root);
        Self::parse(&conf, min_eps)
    }

    fn parse(conf: &str, min_eps: u64) -> Self {
        let conf = COMMENT.replace_all(conf, "");
        let mut out = ClientBuffer::default();
        for block in BLOCK.captures_iter(&conf) {
            let block = &block[1];
            if let Some(v) = element(block, "disabled") {
                out.disabled = v == "yes";
            }
            if let Some(n) = element(block, "queue_size").and_then(|v| v.parse().ok()) {
                if (1..=100_000).contains(&n) {
                    out.queue_size = n;
                }
            }
            if let Some(n) = element(block, "events_per_second").and_then(|v| v.parse().ok()) {
                if (1..=1000).contains(&n) {
                    out.events_per_second = n;
                }
            }
        }
        out.events_per_second = out.events_per_second.max(min_eps);
        out
    }
}

/// `agent.min_eps` from local_internal_options.conf, else internal_options.conf, else 50.
fn min_eps(root: &Path) -> u64 {
    [
        "etc/local_internal_options.conf",
        "etc/internal_options.conf",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(root.join(f)).ok())
    .find_map(|text| {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == "agent.min_eps")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
    })
    .filter(|n| (1..=1000).contains(n))
    .unwrap_or(DEFAULT_MIN_EPS)
}

/// Messages in the ring when agentd last wrote `var/run/wazuh-agentd.state` (`msg_buffer`),
/// if it did so recently.
pub fn buffered_now(root: &Path) -> Option<u64> {
    let path = root.join("var/run/wazuh-agentd.state");
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())?;
    if age > STATE_FRESH {
        return None;
    }
    parse_state(&std::fs::read_to_string(path).ok()?)
}

fn parse_state(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "msg_buffer")
        .and_then(|(_, v)| v.trim().trim_matches('\'').parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_override_in_order() {
        assert_eq!(ClientBuffer::parse("", 50), ClientBuffer::default());
        let conf = "<ossec_config><client_buffer>\n<disabled>no</disabled>\n\
                    <queue_size>100000</queue_size>\n<events_per_second>1000</events_per_second>\n\
                    </client_buffer></ossec_config>\n\
                    <!-- <client_buffer><queue_size>7</queue_size></client_buffer> -->";
        assert_eq!(
            ClientBuffer::parse(conf, 50),
            ClientBuffer {
                disabled: false,
                queue_size: 100_000,
                events_per_second: 1000
            }
        );
        let off = "<client_buffer><disabled>yes</disabled><events_per_second>10</events_per_second></client_buffer>";
        let read = ClientBuffer::parse(off, 50);
        assert!(read.disabled);
        assert_eq!(read.events_per_second, 50, "agent.min_eps is the floor");
        let out_of_range = "<client_buffer><queue_size>0</queue_size><events_per_second>5000</events_per_second></client_buffer>";
        assert_eq!(
            ClientBuffer::parse(out_of_range, 50),
            ClientBuffer::default()
        );
    }

    #[test]
    fn state_file_gives_the_buffered_messages() {
        let text = "# State file for wazuh-agentd\nstatus='connected'\nmsg_count='12'\nmsg_buffer='3417'\n";
        assert_eq!(parse_state(text), Some(3417));
        assert_eq!(parse_state("msg_buffer=''\n"), None);
    }

    #[test]
    fn min_eps_from_internal_options() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        assert_eq!(min_eps(dir.path()), 50);
        std::fs::write(
            dir.path().join("etc/local_internal_options.conf"),
            "# agent.min_eps=3\nagent.min_eps=80\n",
        )
        .unwrap();
        assert_eq!(min_eps(dir.path()), 80);
    }
}
