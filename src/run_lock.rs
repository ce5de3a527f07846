//! The run lock: one run at a time per bucket and type, so that a manual backfill and the
//! scheduled run never send the same objects twice.

use crate::exit::{code, fail};
use anyhow::Result;

/// Hold the run lock, waiting (with a line saying so) while another run has it.
pub fn hold(path: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::state::refuse_symlink(path, code::SQLITE_CREATE)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            fail(
                code::SQLITE_CREATE,
                format!("Cannot create the run lock {}: {e}", path.display()),
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // Said only to a person or under --debug: wazuh-modulesd would forward the line
            // to analysisd as an event.
            let waiting = format!(
                "Another aws-s3 run is reading this bucket and type ({}); waiting for it to end.",
                path.display()
            );
            crate::debug!(1, "{waiting}");
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!("{waiting}");
            }
            file.lock().map_err(|e| {
                fail(
                    code::UNKNOWN,
                    format!("Cannot lock {}: {e}", path.display()),
                )
            })?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(fail(
                code::UNKNOWN,
                format!("Cannot lock {}: {e}", path.display()),
            ));
        }
    }
    Ok(file)
}
