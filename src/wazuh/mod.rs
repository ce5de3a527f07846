//! Where the Wazuh installation is, which version and kind (manager or agent) it runs, and
//! what its daemons on the other side of the queue socket tell about themselves
//! ([`analysisd`] on a manager, [`agentd`] on an agent).

pub mod agentd;
pub mod analysisd;

use crate::exit::{code, fail};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

pub const DEFAULT_ROOT: &str = "/var/ossec";

/// Paths of one installation.
#[derive(Debug, Clone)]
pub struct Installation {
    pub root: PathBuf,
    /// What `wazuh-control info` printed (asked once: it is a shell script, and both the
    /// state file and the consumer want it).
    info: Arc<OnceLock<Result<String, String>>>,
}

/// What kind of installation `wazuh-control info` says this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `WAZUH_TYPE` "server" or "local": analysisd reads the queue socket.
    Manager,
    /// `WAZUH_TYPE` "agent": agentd reads the queue socket.
    Agent,
    Unknown,
}

impl Installation {
    /// The root from an explicit override, else the folder above the first `wodles` component
    /// of the program's path (as the reference derives it from its own file), else /var/ossec.
    pub fn locate(explicit: Option<PathBuf>) -> Self {
        if let Some(root) = explicit {
            return Installation::at(root);
        }
        let from_argv0 = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .filter(|p| p.components().count() > 1)
            .map(absolute);
        let candidates = from_argv0.into_iter().chain(std::env::current_exe().ok());
        for program in candidates {
            if let Some(root) = root_above_wodles(&program) {
                return Installation::at(root);
            }
        }
        Installation::at(PathBuf::from(DEFAULT_ROOT))
    }

    pub fn at(root: PathBuf) -> Self {
        Installation {
            root,
            info: Arc::default(),
        }
    }

    pub fn queue_socket(&self) -> PathBuf {
        self.root.join("queue").join("sockets").join("queue")
    }

    pub fn state_db(&self) -> PathBuf {
        self.root
            .join("wodles")
            .join("aws")
            .join("s3_cloudtrail.db")
    }

    /// The services' state file.
    pub fn services_db(&self) -> PathBuf {
        self.root.join("wodles/aws/aws_services.db")
    }

    /// The lock that keeps two runs from reading the same bucket and type at once.
    pub fn run_lock(&self, bucket: &str, bucket_type: &str) -> PathBuf {
        self.root
            .join("wodles")
            .join("aws")
            .join(format!(".aws-s3.{bucket_type}.{bucket}.lock"))
    }

    pub fn control(&self) -> PathBuf {
        self.root.join("bin").join("wazuh-control")
    }

    /// The output of `wazuh-control info`, or why it could not be run.
    fn info(&self) -> &Result<String, String> {
        self.info.get_or_init(|| {
            Command::new(self.control())
                .arg("info")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .map_err(|e| e.to_string())
        })
    }

    /// WAZUH_VERSION from `wazuh-control info`, stored in the state file's metadata.
    pub fn version(&self) -> anyhow::Result<String> {
        match self.info() {
            Ok(info) => Ok(parse_version(info)),
            Err(e) => Err(fail(
                code::UNKNOWN,
                format!(
                    "a problem occurred while executing {}: {e}. Is this a Wazuh installation? \
                     Set --wazuh_root or WAZUH_ROOT to the Wazuh folder.",
                    self.control().display()
                ),
            )),
        }
    }

    /// Manager or agent, and the major version (5 and later moved the manager out of
    /// /var/ossec and run the AWS module on agents only).
    pub fn kind(&self) -> (Kind, Option<u32>) {
        let Ok(info) = self.info() else {
            return (Kind::Unknown, None);
        };
        (parse_kind(info), major_version(&parse_version(info)))
    }
}

fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

fn parse_kind(info: &str) -> Kind {
    match info_field(info, "WAZUH_TYPE") {
        Some("server") | Some("local") => Kind::Manager,
        Some("agent") => Kind::Agent,
        _ => Kind::Unknown,
    }
}

/// 4 of "v4.14.7".
fn major_version(version: &str) -> Option<u32> {
    version
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The reference stores "ERROR" when wazuh-control prints nothing.
fn parse_version(info: &str) -> String {
    if info.is_empty() {
        return "ERROR".to_string();
    }
    info.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "WAZUH_VERSION")
        .map(|(_, v)| v.replace('"', "").trim().to_string())
        .unwrap_or_else(|| "ERROR".to_string())
}

/// Make a path absolute without resolving symlinks (a symlinked binary keeps its Wazuh root).
fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

fn root_above_wodles(program: &Path) -> Option<PathBuf> {
    let mut root = PathBuf::new();
    for c in program.components() {
        if c == Component::Normal("wodles".as_ref()) {
            return Some(if root.as_os_str().is_empty() {
                PathBuf::from("/")
            } else {
                root
            });
        }
        root.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_folder_above_wodles() {
        assert_eq!(
            root_above_wodles(Path::new("/var/ossec/wodles/aws/aws-s3")),
            Some(PathBuf::from("/var/ossec"))
        );
        assert_eq!(root_above_wodles(Path::new("/usr/bin/aws-s3")), None);
    }

    #[test]
    fn version_is_read_from_info_output() {
        let info = "WAZUH_VERSION=\"v4.14.7\"\nWAZUH_REVISION=\"rc1\"\nWAZUH_TYPE=\"server\"\n";
        assert_eq!(parse_version(info), "v4.14.7");
        assert_eq!(parse_version(""), "ERROR");
        assert_eq!(parse_kind(info), Kind::Manager);
        assert_eq!(parse_kind("WAZUH_TYPE=\"agent\"\n"), Kind::Agent);
        assert_eq!(parse_kind("WAZUH_VERSION=\"v4.14.7\"\n"), Kind::Unknown);
        assert_eq!(major_version("v5.0.0"), Some(5));
        assert_eq!(major_version("ERROR"), None);
    }
}
