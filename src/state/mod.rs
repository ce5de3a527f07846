//! The SQLite state file shared with the Python wodle (`<wazuh>/wodles/aws/s3_cloudtrail.db`).
//!
//! Tables, column types and primary keys are the reference's, byte for byte in the CREATE
//! statements, so either implementation can continue from the other's file. Unlike the
//! reference, every processed object is committed on its own (SQLite autocommit), so an early
//! exit or a kill keeps everything finished before it.

use crate::debug;
use crate::exit::{code, fail};
use anyhow::Result;
use chrono::{Duration, NaiveDate};
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use std::path::Path;

mod file;
pub use file::{
    access_error, open_error, open_read_only, open_state_file, refuse_symlink, table_exists,
};

/// Rows kept per scope after each run (the reference's MAX_RECORD_RETENTION).
pub const RETAINED_ROWS: i64 = 500;

/// Which columns identify where an object came from, besides its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `AWSLogs/` types read per account and region (cloudtrail, config).
    Regional,
    /// VPC flow logs: per account, region and flow log.
    FlowLog,
    /// Custom-layout types: per account only (no region column).
    Global,
}

impl TableKind {
    fn scope_columns(self) -> &'static [&'static str] {
        match self {
            TableKind::Regional => &["bucket_path", "aws_account_id", "aws_region"],
            TableKind::FlowLog => &["bucket_path", "aws_account_id", "aws_region", "flow_log_id"],
            TableKind::Global => &["bucket_path", "aws_account_id"],
        }
    }
}

/// The values of a table's scope columns for one listing (account, region, flow log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub bucket_path: String,
    pub account_id: String,
    pub region: Option<String>,
    pub flow_log_id: Option<String>,
}

impl Scope {
    fn values(&self, kind: TableKind) -> Vec<String> {
        let mut v = vec![self.bucket_path.clone(), self.account_id.clone()];
        if kind != TableKind::Global {
            v.push(self.region.clone().unwrap_or_default());
        }
        if kind == TableKind::FlowLog {
            v.push(self.flow_log_id.clone().unwrap_or_default());
        }
        v
    }
}

/// How old rows are trimmed after a scope was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Keep the newest [`RETAINED_ROWS`] keys (the reference).
    NewestRows,
    /// Also keep every row from the day before the newest `created_date` on, so that the
    /// rewound marker of late-arrival types never re-sends a trimmed object (D11).
    NewestRowsAndLastDays,
}

pub struct State {
    conn: Connection,
    table: &'static str,
    kind: TableKind,
    /// Dry runs read the state but never change it.
    read_only: bool,
    /// A read-only state file without this type's table: nothing was processed yet.
    missing_table: std::cell::Cell<bool>,
}

impl State {
    /// Open (or create) the state file and bring its metadata to `version`, as the reference
    /// does when it starts. The type's own table is created later by [`State::ensure_table`].
    pub fn open(path: &Path, version: &str, table: &'static str, kind: TableKind) -> Result<State> {
        Ok(State {
            conn: open_state_file(path, version)?,
            table,
            kind,
            read_only: false,
            missing_table: Default::default(),
        })
    }

    /// Open the state for a dry run: an existing file read-only, else an empty in-memory
    /// state; nothing is ever written to disk.
    pub fn open_read_only(path: &Path, table: &'static str, kind: TableKind) -> Result<State> {
        let conn = if path.exists() {
            open_read_only(path, std::time::Duration::from_secs(60))
        } else {
            Connection::open_in_memory()
        }
        .map_err(|e| open_error(path, e))?;
        Ok(State {
            conn,
            table,
            kind,
            read_only: true,
            missing_table: Default::default(),
        })
    }

    fn table_exists(&self, name: &str) -> rusqlite::Result<bool> {
        table_exists(&self.conn, name)
    }

    /// Create the type's table when it is missing, with the reference's exact schema.
    pub fn ensure_table(&self) -> Result<()> {
        let exists = self.table_exists(self.table).map_err(access_error)?;
        if exists {
            return Ok(());
        }
        if self.read_only && self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            self.missing_table.set(true);
            return Ok(());
        }
        debug!(1, "+++ Table does not exist; create");
        let cols = self.kind.scope_columns();
        let mut ddl = format!("CREATE TABLE {} (\n", self.table);
        for c in cols.iter().chain(["log_key", "processed_date"].iter()) {
            ddl.push_str(&format!("                {c} 'text' NOT NULL,\n"));
        }
        ddl.push_str("                created_date 'integer' NOT NULL,\n");
        ddl.push_str(&format!(
            "                PRIMARY KEY ({}, log_key));",
            cols.join(", ")
        ));
        self.conn.execute_batch(&ddl).map_err(|e| {
            fail(
                code::SQLITE_CREATE,
                format!("Unable to create SQLite DB: {e}"),
            )
        })?;
        Ok(())
    }

    fn scope_where(&self) -> String {
        self.kind
            .scope_columns()
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c}=?{}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    pub fn is_processed(&self, scope: &Scope, key: &str) -> Result<bool> {
        if self.missing_table.get() {
            return Ok(false);
        }
        let mut values = scope.values(self.kind);
        let n = values.len();
        values.push(key.to_string());
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} AND log_key=?{}",
            self.table,
            self.scope_where(),
            n + 1
        );
        let count: i64 = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row(params_from_iter(values.iter()), |r| r.get(0)))
            .map_err(access_error)?;
        Ok(count > 0)
    }

    /// The greatest recorded key of `scope` that matches the SQL LIKE pattern `like`
    /// (the reference's query, LIKE semantics included).
    pub fn last_key(&self, scope: &Scope, like: &str) -> Result<Option<String>> {
        if self.missing_table.get() {
            return Ok(None);
        }
        let mut values = scope.values(self.kind);
        let n = values.len();
        values.push(like.to_string());
        let sql = format!(
            "SELECT log_key FROM {} WHERE {} AND log_key LIKE ?{} ORDER BY log_key DESC LIMIT 1",
            self.table,
            self.scope_where(),
            n + 1
        );
        self.conn
            .query_row(&sql, params_from_iter(values.iter()), |r| r.get(0))
            .optional()
            .map_err(access_error)
    }

    /// The flow-log ids recorded for an account and region (`vpcflow` only).
    pub fn flow_log_ids(
        &self,
        bucket_path: &str,
        account: &str,
        region: &str,
    ) -> Result<Vec<String>> {
        if self.missing_table.get() || self.kind != TableKind::FlowLog {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT DISTINCT flow_log_id FROM {} WHERE bucket_path=?1 AND aws_account_id=?2 \
             AND aws_region=?3 ORDER BY flow_log_id",
            self.table
        );
        let mut statement = self.conn.prepare(&sql).map_err(access_error)?;
        let ids = statement
            .query_map([bucket_path, account, region], |r| r.get(0))
            .map_err(access_error)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(access_error)?;
        Ok(ids)
    }

    /// Record `key` as processed, committed at once. A key already recorded is left as it is.
    pub fn mark_complete(&self, scope: &Scope, key: &str, created_date: i64) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let mut values: Vec<rusqlite::types::Value> = scope
            .values(self.kind)
            .into_iter()
            .map(rusqlite::types::Value::Text)
            .collect();
        let cols = self.kind.scope_columns();
        values.push(rusqlite::types::Value::Text(key.to_string()));
        values.push(rusqlite::types::Value::Integer(created_date));
        let placeholders: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}, log_key, processed_date, created_date) VALUES ({}, DATETIME('now'), ?{})",
            self.table,
            cols.join(", "),
            placeholders.join(", "),
            cols.len() + 2
        );
        let result = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.execute(params_from_iter(values.iter())));
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, msg))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                debug!(
                    2,
                    "+++ Error marking log {key} as completed: {}",
                    msg.unwrap_or_else(|| e.to_string())
                );
                Ok(())
            }
            Err(e) => Err(access_error(e)),
        }
    }

    /// Trim old rows of `scope` after it was read; with `key_prefix`, only rows whose key
    /// starts with it count (load-balancer tables have no region column: D11).
    pub fn trim(
        &self,
        scope: &Scope,
        key_prefix: Option<&str>,
        retention: Retention,
    ) -> Result<()> {
        debug!(1, "+++ DB Maintenance");
        let mut values = scope.values(self.kind);
        let mut filter = self.scope_where();
        if let Some(p) = key_prefix {
            values.push(p.to_string());
            filter.push_str(&format!(
                " AND substr(log_key, 1, length(?{n})) = ?{n}",
                n = values.len()
            ));
        }
        let count: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE {filter}", self.table),
                params_from_iter(values.iter()),
                |r| r.get(0),
            )
            .map_err(access_error)?;
        if count <= RETAINED_ROWS {
            return Ok(());
        }
        let mut sql = format!(
            "DELETE FROM {t} WHERE {filter} AND log_key <= (SELECT log_key FROM {t} WHERE {filter} \
             ORDER BY log_key DESC LIMIT 1 OFFSET {RETAINED_ROWS})",
            t = self.table
        );
        if retention == Retention::NewestRowsAndLastDays {
            let newest: Option<i64> = self
                .conn
                .query_row(
                    &format!(
                        "SELECT MAX(created_date) FROM {} WHERE {filter}",
                        self.table
                    ),
                    params_from_iter(values.iter()),
                    |r| r.get(0),
                )
                .map_err(access_error)?;
            if let Some(cutoff) = newest.and_then(day_before) {
                sql.push_str(&format!(" AND created_date < {cutoff}"));
            }
        }
        self.conn
            .execute(&sql, params_from_iter(values.iter()))
            .map_err(access_error)?;
        Ok(())
    }

    /// Let SQLite refresh its statistics, as the reference does at the end of a run.
    pub fn close(self) {
        if self.read_only {
            return;
        }
        let _ = self.conn.execute_batch("PRAGMA optimize;");
    }
}

fn day_before(date: i64) -> Option<i64> {
    let d = NaiveDate::parse_from_str(&date.to_string(), "%Y%m%d").ok()?;
    let prev = d - Duration::days(1);
    prev.format("%Y%m%d").to_string().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            bucket_path: "b/".into(),
            account_id: "111122223333".into(),
            region: Some("us-east-1".into()),
            flow_log_id: None,
        }
    }

    fn open(dir: &tempfile::TempDir) -> State {
        let s = State::open(
            &dir.path().join("s.db"),
            "v4.14.7",
            "cloudtrail",
            TableKind::Regional,
        )
        .unwrap();
        s.ensure_table().unwrap();
        s
    }

    #[test]
    fn schema_matches_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir);
        let cols: Vec<(String, String, i64, i64)> = s
            .conn
            .prepare("PRAGMA table_info(cloudtrail)")
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(5)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let expected = [
            ("bucket_path", "TEXT", 1, 1),
            ("aws_account_id", "TEXT", 1, 2),
            ("aws_region", "TEXT", 1, 3),
            ("log_key", "TEXT", 1, 4),
            ("processed_date", "TEXT", 1, 0),
            ("created_date", "INTEGER", 1, 0),
        ];
        let got: Vec<_> = cols
            .iter()
            .map(|(a, b, c, d)| (a.as_str(), b.as_str(), *c, *d))
            .collect();
        assert_eq!(got, expected);
        let version: String = s
            .conn
            .query_row("SELECT value FROM metadata WHERE key='version'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, "v4.14.7");
    }

    #[test]
    fn metadata_version_is_updated_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(&dir));
        let s = State::open(
            &dir.path().join("s.db"),
            "v4.15.0",
            "cloudtrail",
            TableKind::Regional,
        )
        .unwrap();
        let version: String = s
            .conn
            .query_row("SELECT value FROM metadata WHERE key='version'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(version, "v4.15.0");
    }

    #[test]
    fn marks_lookups_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir);
        let sc = scope();
        assert!(!s.is_processed(&sc, "AWSLogs/k1").unwrap());
        s.mark_complete(&sc, "AWSLogs/k1", 20240301).unwrap();
        s.mark_complete(&sc, "AWSLogs/k1", 20240301).unwrap();
        s.mark_complete(&sc, "AWSLogs/k2", 20240301).unwrap();
        assert!(s.is_processed(&sc, "AWSLogs/k1").unwrap());
        assert_eq!(
            s.last_key(&sc, "AWSLogs/%").unwrap().as_deref(),
            Some("AWSLogs/k2")
        );
        assert_eq!(s.last_key(&sc, "Other/%").unwrap(), None);
        let other = Scope {
            region: Some("eu-west-1".into()),
            ..sc
        };
        assert!(!s.is_processed(&other, "AWSLogs/k1").unwrap());
    }

    #[test]
    fn read_only_state_reads_and_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        // No file: an empty in-memory state, and still no file afterwards.
        let s = State::open_read_only(&path, "cloudtrail", TableKind::Regional).unwrap();
        s.ensure_table().unwrap();
        s.mark_complete(&scope(), "k", 20240101).unwrap();
        assert!(!path.exists());
        drop(s);
        // An existing file is read, not changed.
        let rw = open(&dir);
        rw.mark_complete(&scope(), "AWSLogs/k1", 20240301).unwrap();
        drop(rw);
        let before = std::fs::read(&path).unwrap();
        let s = State::open_read_only(&path, "cloudtrail", TableKind::Regional).unwrap();
        s.ensure_table().unwrap();
        assert!(s.is_processed(&scope(), "AWSLogs/k1").unwrap());
        s.mark_complete(&scope(), "AWSLogs/k2", 20240301).unwrap();
        s.trim(&scope(), None, Retention::NewestRows).unwrap();
        s.close();
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // A file without this type's table: nothing processed yet.
        let s = State::open_read_only(&path, "config", TableKind::Regional).unwrap();
        s.ensure_table().unwrap();
        assert!(!s.is_processed(&scope(), "AWSLogs/k1").unwrap());
    }

    #[test]
    fn retention_keeps_newest_rows_and_the_last_two_days() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(&dir);
        let sc = scope();
        for i in 0..700 {
            s.mark_complete(&sc, &format!("k/{i:04}"), 20240227)
                .unwrap();
        }
        for i in 700..1300 {
            s.mark_complete(&sc, &format!("k/{i:04}"), 20240301)
                .unwrap();
        }
        // 20240301 - 1 day = 20240229: rows of 02/27 beyond the newest 500 go.
        s.trim(&sc, None, Retention::NewestRowsAndLastDays).unwrap();
        let count: i64 = s
            .conn
            .query_row("SELECT count(*) FROM cloudtrail", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 600);
        s.trim(&sc, Some("k/"), Retention::NewestRows).unwrap();
        let count: i64 = s
            .conn
            .query_row("SELECT count(*) FROM cloudtrail", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 500);
        assert_eq!(day_before(20240301), Some(20240229));
    }
}
