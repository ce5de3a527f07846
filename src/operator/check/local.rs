//! The Wazuh side: the installation, the queue socket and what reads it, the state file.
//! Nothing is sent (a connect is enough to know a datagram would be taken) and nothing is
//! created or opened for writing.

use super::Report;
use crate::cli::{Args, Mode};
use crate::service::Service;
use crate::sink::consumer::Consumer;
use crate::state::{open_read_only, table_exists};
use crate::wazuh::{Installation, Kind};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub fn checks(args: &Args, mode: &Mode, report: &mut Report) {
    let install = Installation::locate(args.wazuh_root.clone());
    installation(&install, report);
    if let Some(output) = &args.output {
        let why = format!("--output writes to {}", output.display());
        report.skipped("queue socket", &why);
        report.skipped("event consumer", &why);
    } else {
        let socket = args
            .queue_socket
            .clone()
            .unwrap_or_else(|| install.queue_socket());
        if queue_socket(&socket, report) {
            let consumer = Consumer::detect(&install, &socket);
            report.ok("event consumer", consumer.describe(args.max_eps));
        } else {
            report.skipped("event consumer", "needs the queue socket");
        }
    }
    match state_file(&install, mode) {
        Some((path, tables)) => state(&path, &tables, report),
        None => report.skipped("state file", "subscribers keep no state file"),
    }
}

fn installation(install: &Installation, report: &mut Report) {
    let root = install.root.display().to_string();
    if !install.root.is_dir() {
        report.failed(
            "wazuh",
            format!("no folder {root}"),
            "give the Wazuh folder with --wazuh_root or WAZUH_ROOT, or run the program from \
             <wazuh>/wodles/aws",
        );
        return;
    }
    match install.version() {
        Ok(version) => {
            let kind = match install.kind().0 {
                Kind::Manager => "manager",
                Kind::Agent => "agent",
                Kind::Unknown => "manager or agent not said (no WAZUH_TYPE in wazuh-control info)",
            };
            report.ok("wazuh", format!("{root}: Wazuh {version}, {kind}"));
        }
        Err(e) => report.failed(
            "wazuh",
            format!("{e:#}"),
            "give the Wazuh folder with --wazuh_root or WAZUH_ROOT (its bin/wazuh-control \
             must run)",
        ),
    }
}

/// Whether a datagram would be taken: a connect, nothing sent.
fn queue_socket(path: &Path, report: &mut Report) -> bool {
    let socket = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(e) => {
            report.failed(
                "queue socket",
                format!("no socket: {e}"),
                "check the system's limits",
            );
            return false;
        }
    };
    let shown = path.display();
    match socket.connect(path) {
        Ok(()) => {
            report.ok(
                "queue socket",
                format!("{shown} takes datagrams (nothing sent)"),
            );
            true
        }
        Err(e) => {
            let fix = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "start Wazuh (systemctl start wazuh-manager, or wazuh-agent): its \
                     analysisd (manager) or agentd (agent) reads this socket; or give \
                     --wazuh_root for another installation"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "run as root, as wazuh-modulesd runs the wodle, or as a member of the \
                     wazuh group"
                }
                _ => "check that the path is Wazuh's queue socket",
            };
            report.failed("queue socket", format!("{shown}: {e}"), fix);
            false
        }
    }
}

/// The mode's state file and the tables its run reads.
fn state_file(install: &Installation, mode: &Mode) -> Option<(PathBuf, Vec<&'static str>)> {
    match mode {
        Mode::Bucket { kind, .. } => Some((install.state_db(), vec![kind.info().table])),
        Mode::Service(Service::CloudWatchLogs) => {
            Some((install.services_db(), vec!["cloudwatch_logs"]))
        }
        Mode::Service(Service::Inspector) => Some((install.services_db(), vec!["aws_services"])),
        Mode::Subscriber { .. } => None,
    }
}

/// `access(2)` with the effective ids: what this user may do, as the run would be allowed.
fn may(path: &Path, mode: libc::c_int) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path that outlives the call; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, libc::AT_EACCESS) == 0 }
}

fn whoami() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    format!("uid {}", unsafe { libc::geteuid() })
}

fn state(path: &Path, tables: &[&str], report: &mut Report) {
    const NAME: &str = "state file";
    let shown = path.display();
    let dir = path.parent().unwrap_or(Path::new("."));
    let writable_fix = "run as root (wazuh-modulesd runs the wodle as root), or give this user \
                        write access to the file and its folder (SQLite writes a journal \
                        beside it)";
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) if dir.is_dir() && may(dir, libc::W_OK | libc::X_OK) => {
            report.ok(
                NAME,
                format!("{shown} does not exist yet; the first run creates it"),
            );
            return;
        }
        Err(_) => {
            report.failed(
                NAME,
                format!(
                    "{shown} does not exist and {} is not writable by {}",
                    dir.display(),
                    whoami()
                ),
                writable_fix,
            );
            return;
        }
    };
    if meta.file_type().is_symlink() {
        report.failed(
            NAME,
            format!("{shown} is a symbolic link (a run refuses it, exit 6)"),
            "remove the link; the state file is always a plain file",
        );
        return;
    }
    // A read-only file is told as such: opening it may fail too (WAL needs its -shm file).
    if !may(path, libc::W_OK) || !may(dir, libc::W_OK | libc::X_OK) {
        report.failed(
            NAME,
            format!("{shown} is read-only for {}", whoami()),
            writable_fix,
        );
        return;
    }
    let conn = match open_read_only(path, std::time::Duration::from_secs(5)) {
        Ok(c) => c,
        Err(e) => {
            report.failed(NAME, format!("{shown}: {e}"), writable_fix);
            return;
        }
    };
    let mut found = Vec::new();
    for table in std::iter::once("metadata").chain(tables.iter().copied()) {
        match table_exists(&conn, table) {
            Ok(true) => {
                let rows: i64 = conn
                    .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .unwrap_or_default();
                found.push(format!("{table} ({rows} rows)"));
            }
            Ok(false) => found.push(format!("no {table} yet (a run creates it)")),
            Err(e) => {
                report.failed(
                    NAME,
                    format!("{shown} is not a readable SQLite file: {e}"),
                    "move the damaged file aside; the next run starts a new one from \
                     --only_logs_after (or today)",
                );
                return;
            }
        }
    }
    report.ok(NAME, format!("{shown}: {}; writable", found.join(", ")));
}
