//! Where the Wazuh installation is, and which version it runs.

use crate::exit::{code, fail};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

pub const DEFAULT_ROOT: &str = "/var/ossec";

/// Paths of one installation.
#[derive(Debug, Clone)]
pub struct Installation {
    pub root: PathBuf,
}

impl Installation {
    /// The root from an explicit override, else the folder above the first `wodles` component
    /// of the program's path (as the reference derives it from its own file), else /var/ossec.
    pub fn locate(explicit: Option<PathBuf>) -> Self {
        if let Some(root) = explicit {
            return Installation { root };
        }
        let from_argv0 = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .filter(|p| p.components().count() > 1)
            .map(absolute);
        let candidates = from_argv0.into_iter().chain(std::env::current_exe().ok());
        for program in candidates {
            if let Some(root) = root_above_wodles(&program) {
                return Installation { root };
            }
        }
        Installation {
            root: PathBuf::from(DEFAULT_ROOT),
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

    /// The lock that keeps two runs from reading the same bucket and type at once.
    /// The services' state file.
    pub fn services_db(&self) -> PathBuf {
        self.root.join("wodles/aws/aws_services.db")
    }

    pub fn run_lock(&self, bucket: &str, bucket_type: &str) -> PathBuf {
        self.root
            .join("wodles")
            .join("aws")
            .join(format!(".aws-s3.{bucket_type}.{bucket}.lock"))
    }

    pub fn control(&self) -> PathBuf {
        self.root.join("bin").join("wazuh-control")
    }

    /// WAZUH_VERSION from `wazuh-control info`, stored in the state file's metadata.
    pub fn version(&self) -> anyhow::Result<String> {
        let control = self.control();
        let output = Command::new(&control).arg("info").output().map_err(|e| {
            fail(
                code::UNKNOWN,
                format!(
                    "a problem occurred while executing {}: {e}. Is this a Wazuh installation? \
                     Set --wazuh_root or WAZUH_ROOT to the Wazuh folder.",
                    control.display()
                ),
            )
        })?;
        Ok(parse_version(&String::from_utf8_lossy(&output.stdout)))
    }
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
    }
}
