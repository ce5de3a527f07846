//! `<wazuh>/wodles/aws/aws_services.db`: the CloudWatch Logs stream positions and the
//! Inspector scan dates, with the reference's exact tables, so that a file written by the
//! Python wodle is continued and the Python wodle can continue ours.

use super::position::Position;
use crate::exit::{code, fail};
use crate::state::{access_error, open_read_only, open_state_file, table_exists};
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const CLOUDWATCH_TABLE: &str = "CREATE TABLE cloudwatch_logs (
                    aws_region 'text' NOT NULL,
                    aws_log_group 'text' NOT NULL,
                    aws_log_stream 'text' NOT NULL,
                    next_token 'text',
                    start_time 'integer',
                    end_time 'integer',
                    PRIMARY KEY (aws_region, aws_log_group, aws_log_stream));";

const SERVICES_TABLE: &str = "CREATE TABLE aws_services (
                    service_name 'text' NOT NULL,
                    aws_account_id 'text' NOT NULL,
                    aws_region 'text' NOT NULL,
                    scan_date 'text' NOT NULL,
                    PRIMARY KEY (service_name, aws_account_id, aws_region, scan_date));";

/// Scan rows kept per (service, account, region).
const RETAINED_SCANS: i64 = 5;

pub struct ServicesDb {
    conn: Connection,
}

impl ServicesDb {
    pub fn open(path: &Path, version: &str) -> Result<Self> {
        Ok(ServicesDb {
            conn: open_state_file(path, version)?,
        })
    }

    /// An in-memory state for dry runs: what is read from the real file, nothing written.
    pub fn open_dry(path: &Path) -> Result<Self> {
        let mut conn = Connection::open_in_memory().map_err(access_error)?;
        if path.exists() {
            let disk = open_read_only(path, std::time::Duration::ZERO).map_err(access_error)?;
            rusqlite::backup::Backup::new(&disk, &mut conn)
                .and_then(|b| b.run_to_completion(1024, std::time::Duration::ZERO, None))
                .map_err(access_error)?;
        }
        Ok(ServicesDb { conn })
    }

    fn ensure(&self, table: &str, create: &str) -> Result<()> {
        if !table_exists(&self.conn, table).map_err(access_error)? {
            crate::debug!(1, "+++ Table does not exist; create");
            self.conn.execute_batch(create).map_err(|e| {
                fail(
                    code::SQLITE_CREATE,
                    format!("Unable to create SQLite DB: {e}"),
                )
            })?;
        }
        Ok(())
    }

    pub fn ensure_cloudwatch(&self) -> Result<()> {
        self.ensure("cloudwatch_logs", CLOUDWATCH_TABLE)
    }

    pub fn ensure_services(&self) -> Result<()> {
        self.ensure("aws_services", SERVICES_TABLE)
    }

    /// A stream's stored position; the text "None" (as old Python files hold) is no value.
    pub fn position(&self, region: &str, group: &str, stream: &str) -> Result<Option<Position>> {
        self.conn
            .query_row(
                "SELECT next_token, start_time, end_time FROM cloudwatch_logs
                 WHERE aws_region=?1 AND aws_log_group=?2 AND aws_log_stream=?3",
                params![region, group, stream],
                |r| {
                    let int = |i: usize| -> rusqlite::Result<Option<i64>> {
                        Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Integer(n) => Some(n),
                            rusqlite::types::Value::Real(f) => Some(f as i64),
                            rusqlite::types::Value::Text(t) => t.parse().ok(),
                            _ => None,
                        })
                    };
                    let token: Option<String> = r.get(0)?;
                    Ok(Position {
                        token: token.filter(|t| t != "None"),
                        start: int(1)?,
                        end: int(2)?,
                    })
                },
            )
            .optional()
            .map_err(access_error)
    }

    /// Store a stream's position (insert, or update the existing row) and commit it.
    pub fn save_position(
        &self,
        region: &str,
        group: &str,
        stream: &str,
        p: &Position,
    ) -> Result<()> {
        let updated = self
            .conn
            .execute(
                "UPDATE cloudwatch_logs SET next_token=?4, start_time=?5, end_time=?6
                 WHERE aws_region=?1 AND aws_log_group=?2 AND aws_log_stream=?3",
                params![region, group, stream, p.token, p.start, p.end],
            )
            .map_err(access_error)?;
        if updated == 0 {
            self.conn
                .execute(
                    "INSERT INTO cloudwatch_logs (aws_region, aws_log_group, aws_log_stream,
                     next_token, start_time, end_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![region, group, stream, p.token, p.start, p.end],
                )
                .map_err(access_error)?;
        }
        Ok(())
    }

    /// The streams stored for a group.
    pub fn streams(&self, region: &str, group: &str) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT aws_log_stream FROM cloudwatch_logs WHERE aws_region=?1 AND aws_log_group=?2",
            )
            .map_err(access_error)?;
        let rows = st
            .query_map(params![region, group], |r| r.get(0))
            .map_err(access_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(access_error)
    }

    pub fn forget_stream(&self, region: &str, group: &str, stream: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM cloudwatch_logs WHERE aws_region=?1 AND aws_log_group=?2 AND aws_log_stream=?3",
                params![region, group, stream],
            )
            .map_err(access_error)?;
        Ok(())
    }

    /// The newest scan date of (service, account, region).
    pub fn last_scan(&self, service: &str, account: &str, region: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT scan_date FROM aws_services WHERE service_name=?1 AND aws_account_id=?2
                 AND aws_region=?3 ORDER BY scan_date DESC LIMIT 1",
                params![service, account, region],
                |r| r.get(0),
            )
            .optional()
            .map_err(access_error)
    }

    pub fn add_scan(&self, service: &str, account: &str, region: &str, date: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO aws_services (service_name, aws_account_id, aws_region, scan_date)
                 VALUES (?1, ?2, ?3, ?4)",
                params![service, account, region, date],
            )
            .map_err(access_error)?;
        Ok(())
    }

    /// Keep the newest scan rows of (service, account, region).
    pub fn trim_scans(&self, service: &str, account: &str, region: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM aws_services WHERE service_name=?1 AND aws_account_id=?2 AND aws_region=?3
                 AND rowid NOT IN (SELECT rowid FROM aws_services WHERE service_name=?1
                 AND aws_account_id=?2 AND aws_region=?3 ORDER BY scan_date DESC LIMIT ?4)",
                params![service, account, region, RETAINED_SCANS],
            )
            .map_err(access_error)?;
        Ok(())
    }
}
