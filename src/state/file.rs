//! The state file itself, whichever table a run reads: opening it safely (never through a
//! link, permissions tightened), its `metadata` table as the reference keeps it, and the
//! error a failed access becomes.

use crate::debug;
use crate::exit::{code, fail};
use anyhow::Result;
use rusqlite::{Connection, OptionalExtension};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const DEPRECATED_TABLES: &[&str] = &["log_progress", "trail_progress"];

/// Refuse a state or lock file that is a symbolic link: we run as root, and a link planted
/// where the file should be would have us create or write whatever it points at.
pub fn refuse_symlink(path: &Path, exit: i32) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(fail(
            exit,
            format!(
                "{} is a symbolic link; refusing to follow it. Remove it (a state or lock \
                 file is always a plain file).",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// A failed read or write of a state file (exit 5), as the reference words it.
pub fn access_error(e: rusqlite::Error) -> anyhow::Error {
    fail(
        code::SQLITE_ACCESS,
        format!("Unexpected error accessing SQLite DB: {e}"),
    )
}

/// An existing state file opened for reading only, never through a link, waiting up to
/// `busy` for a writer's lock.
pub fn open_read_only(path: &Path, busy: std::time::Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )?;
    let _ = conn.busy_timeout(busy);
    Ok(conn)
}

/// What a failed read-only open becomes (exit 5).
pub fn open_error(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    fail(
        code::SQLITE_ACCESS,
        format!("Unable to open SQLite DB {}: {e}", path.display()),
    )
}

/// Open (or create) a state file (`s3_cloudtrail.db`, `aws_services.db`) and bring its
/// metadata to `version`, as the reference does when it starts.
pub fn open_state_file(path: &Path, version: &str) -> Result<Connection> {
    refuse_symlink(path, code::SQLITE_CREATE)?;
    let flags = rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        fail(
            code::SQLITE_CREATE,
            format!("Unable to create SQLite DB {}: {e}", path.display()),
        )
    })?;
    // Owner read-write, group (wazuh) read, at most: the file lists what was collected.
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o7777;
        if mode & !0o640 != 0 {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o640));
        }
    }
    // Another run (or the Python wodle) may hold the write lock for a moment.
    let _ = conn.busy_timeout(std::time::Duration::from_secs(60));
    // Each unit of work is its own commit. In WAL mode with synchronous=NORMAL a commit is
    // appended to the log without an fsync: it survives a killed process (the contract's
    // "kill at any moment"), and a power cut can lose only the newest commits, never
    // corrupt the file. The rollback journal would fsync every object (~200 objects/s).
    let _ = conn.pragma_update(None, "journal_mode", "WAL");
    let _ = conn.pragma_update(None, "synchronous", "NORMAL");
    check_metadata(&conn, path, version).map_err(|e| {
        fail(
            code::SQLITE_ACCESS,
            format!(
                "Error attempting to operate with the {} database: {e}",
                path.display()
            ),
        )
    })?;
    Ok(conn)
}

pub fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT tbl_name FROM sqlite_master WHERE type='table' AND name=?1",
        [name],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

fn check_metadata(conn: &Connection, path: &Path, version: &str) -> rusqlite::Result<()> {
    if table_exists(conn, "metadata")? {
        let current: Option<String> = conn
            .query_row("SELECT value FROM metadata WHERE key='version'", [], |r| {
                r.get(0)
            })
            .optional()?;
        if current.as_deref() != Some(version) {
            conn.execute(
                "UPDATE metadata SET value=?1 WHERE key='version'",
                [version],
            )?;
        }
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TABLE metadata (
                key 'text' NOT NULL,
                value 'text' NOT NULL,
                PRIMARY KEY (key, value));",
    )?;
    conn.execute(
        "INSERT INTO metadata (key, value) VALUES ('version', ?1)",
        [version],
    )?;
    for table in DEPRECATED_TABLES {
        if table_exists(conn, table)? {
            debug!(
                2,
                "Removing deprecated '{table} 'table from {}",
                path.display()
            );
            conn.execute_batch(&format!("DROP TABLE {table};"))?;
        }
    }
    Ok(())
}
