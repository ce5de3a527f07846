//! `--status`: what the state files say about how far collection got, without calling AWS.
//!
//! Both files are opened read-only (no lock beyond SQLite's shared lock of each read), so a
//! run in progress is neither blocked nor disturbed. Only the reference's tables and columns
//! are read: a file written by the Python wodle reads the same as ours.

use super::Printer;
use crate::cli::Args;
use crate::exit::{code, fail};
use crate::state::{open_error, open_read_only, table_exists, TableKind};
use crate::wazuh::Installation;
use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use rusqlite::Connection;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

/// What the command line narrows the report to.
struct Filter<'a> {
    bucket: Option<&'a str>,
    bucket_type: Option<String>,
    accounts: Option<&'a [String]>,
    regions: Option<&'a [String]>,
    service: Option<String>,
}

impl Filter<'_> {
    fn account(&self, account: &str) -> bool {
        self.accounts.is_none_or(|a| a.iter().any(|x| x == account))
    }

    /// Rows without a region (custom layouts) stay in a report narrowed by region.
    fn region(&self, region: Option<&str>) -> bool {
        match (self.regions, region) {
            (Some(given), Some(r)) => given.iter().any(|x| x == r),
            _ => true,
        }
    }

    fn buckets(&self) -> bool {
        self.service.is_none()
    }

    fn service(&self, name: &str) -> bool {
        self.bucket.is_none()
            && self.bucket_type.is_none()
            && self.service.as_deref().is_none_or(|s| s == name)
    }
}

pub fn run(args: &Args) -> Result<()> {
    let install = Installation::locate(args.wazuh_root.clone());
    let filter = Filter {
        bucket: args.bucket.as_deref(),
        bucket_type: args.bucket_type.as_ref().map(|t| t.to_lowercase()),
        accounts: args.aws_account_id.as_ref().map(|l| l.0.as_slice()),
        regions: args.regions.as_ref().map(|l| l.0.as_slice()),
        service: args.service.as_ref().map(|s| s.to_lowercase()),
    };
    // JSON lines with --json on stdout, or into --output (FILE or -), as the contract has it.
    let mut out = match &args.output {
        Some(path) => Printer::json_to(path)?,
        None => Printer::new(args.json),
    };
    let now = Utc::now();
    if filter.buckets() {
        buckets(&install.state_db(), &filter, now, &mut out)?;
    }
    if filter.service("cloudwatchlogs") || filter.service("inspector") {
        services(&install.services_db(), &filter, now, &mut out)?;
    }
    Ok(())
}

fn open(path: &Path) -> Result<Option<Connection>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let conn =
        open_read_only(path, std::time::Duration::from_secs(5)).map_err(|e| open_error(path, e))?;
    Ok(Some(conn))
}

fn read_error(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    fail(
        code::SQLITE_ACCESS,
        format!("Unable to read SQLite DB {}: {e}", path.display()),
    )
}

/// The header line of a state file: where it is and which Wazuh version last opened it.
fn file_line(path: &Path, conn: Option<&Connection>, out: &mut Printer) {
    let version = conn.and_then(|c| {
        c.query_row("SELECT value FROM metadata WHERE key='version'", [], |r| {
            r.get::<_, String>(0)
        })
        .ok()
    });
    let text = match (conn, &version) {
        (None, _) => format!("{}: no state file (nothing recorded yet)", path.display()),
        (Some(_), Some(v)) => format!("{} (last opened by Wazuh {v})", path.display()),
        (Some(_), None) => path.display().to_string(),
    };
    out.line(
        &text,
        json!({"kind": "state_file", "path": path, "exists": conn.is_some(), "wazuh_version": version}),
    );
}

/// One scope of a bucket type's table: what was recorded for it.
#[derive(Default)]
struct Scope {
    objects: u64,
    newest_key: String,
    newest_date: i64,
    last_recorded: String,
}

fn buckets(path: &Path, filter: &Filter, now: DateTime<Utc>, out: &mut Printer) -> Result<()> {
    let conn = open(path)?;
    file_line(path, conn.as_ref(), out);
    let Some(conn) = conn else { return Ok(()) };
    let mut rows = Vec::new();
    for (type_name, table, kind) in crate::bucket::tables() {
        if filter
            .bucket_type
            .as_deref()
            .is_some_and(|t| t != type_name)
        {
            continue;
        }
        if !table_exists(&conn, table).map_err(|e| read_error(path, e))? {
            continue;
        }
        for ((bucket_path, account, region, flow), scope) in
            read_table(&conn, table, kind).map_err(|e| read_error(path, e))?
        {
            let bucket = bucket_path
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if filter.bucket.is_some_and(|b| b != bucket)
                || !filter.account(&account)
                || !filter.region(region.as_deref())
            {
                continue;
            }
            rows.push((type_name, bucket, bucket_path, account, region, flow, scope));
        }
    }
    if rows.is_empty() {
        out.note("no recorded objects match");
        return Ok(());
    }
    let mut table = vec![[
        "TYPE",
        "BUCKET",
        "ACCOUNT",
        "REGION",
        "OBJECTS",
        "NEWEST DATE",
        "LAG",
        "LAST RECORDED",
        "NEWEST KEY",
    ]
    .map(String::from)
    .to_vec()];
    for (type_name, bucket, bucket_path, account, region, flow, scope) in rows {
        let date = date_of(scope.newest_date);
        let lag = date.map(|d| (now.date_naive() - d).num_days());
        let region_text = match (&region, &flow) {
            (Some(r), Some(f)) => format!("{r} {f}"),
            (Some(r), None) => r.clone(),
            _ => "-".into(),
        };
        table.push(vec![
            type_name.to_string(),
            bucket.clone(),
            account.clone(),
            region_text,
            scope.objects.to_string(),
            date.map_or("-".into(), |d| d.to_string()),
            lag.map_or("-".into(), |l| format!("{l}d")),
            scope.last_recorded.clone(),
            scope.newest_key.clone(),
        ]);
        out.record(json!({
            "kind": "bucket",
            "type": type_name,
            "bucket": bucket,
            "bucket_path": bucket_path,
            "aws_account_id": account,
            "aws_region": region,
            "flow_log_id": flow,
            "objects": scope.objects,
            "newest_key": scope.newest_key,
            "newest_date": date.map(|d| d.to_string()),
            "lag_days": lag,
            "last_recorded": scope.last_recorded,
        }));
    }
    out.table(&table);
    Ok(())
}

type ScopeKey = (String, String, Option<String>, Option<String>);

/// Every row of a type's table, gathered per scope. Retention keeps a few hundred rows per
/// scope, so reading them all is cheap and needs nothing but the reference's columns.
fn read_table(
    conn: &Connection,
    table: &str,
    kind: TableKind,
) -> rusqlite::Result<BTreeMap<ScopeKey, Scope>> {
    let region = if kind == TableKind::Global {
        "NULL"
    } else {
        "aws_region"
    };
    let flow = if kind == TableKind::FlowLog {
        "flow_log_id"
    } else {
        "NULL"
    };
    let sql = format!(
        "SELECT bucket_path, aws_account_id, {region}, {flow}, log_key, created_date, \
         processed_date FROM {table}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut scopes: BTreeMap<ScopeKey, Scope> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let log_key: String = row.get(4)?;
        let region: Option<String> = row.get(2)?;
        let region = region.or_else(|| region_in_key(&log_key));
        let key = (row.get(0)?, row.get(1)?, region, row.get(3)?);
        let created: i64 = row.get::<_, Option<i64>>(5)?.unwrap_or_default();
        let processed: String = row.get::<_, Option<String>>(6)?.unwrap_or_default();
        let scope = scopes.entry(key).or_default();
        scope.objects += 1;
        // The newest by the date in the key, then by key: Config's folders do not sort as text.
        if (created, log_key.as_str()) > (scope.newest_date, scope.newest_key.as_str()) {
            scope.newest_date = created;
            scope.newest_key = log_key;
        }
        if processed > scope.last_recorded {
            scope.last_recorded = processed;
        }
    }
    Ok(scopes)
}

/// The region folder of an `AWSLogs/` key, for the tables without a region column (load
/// balancers, native GuardDuty): `.../REGION/YYYY/...`.
fn region_in_key(key: &str) -> Option<String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"/([a-z]{2}(?:-gov)?-[a-z]+-\d)/\d{4}/").expect("static regex")
    });
    RE.captures(key).map(|c| c[1].to_string())
}

/// `YYYYMMDD` as a date.
fn date_of(created: i64) -> Option<NaiveDate> {
    let (y, md) = (created / 10_000, created % 10_000);
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, (md / 100) as u32, (md % 100) as u32)
}

fn services(path: &Path, filter: &Filter, now: DateTime<Utc>, out: &mut Printer) -> Result<()> {
    let conn = open(path)?;
    file_line(path, conn.as_ref(), out);
    let Some(conn) = conn else { return Ok(()) };
    let err = |e| read_error(path, e);
    if filter.service("cloudwatchlogs") && table_exists(&conn, "cloudwatch_logs").map_err(err)? {
        cloudwatch(&conn, filter, now, out).map_err(err)?;
    }
    if filter.service("inspector") && table_exists(&conn, "aws_services").map_err(err)? {
        inspector(&conn, filter, now, out).map_err(err)?;
    }
    Ok(())
}

fn millis(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> Option<i64> {
    then.map(|t| (now - t).num_seconds())
}

fn age_text(seconds: Option<i64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 3600 => format!("{}m", s / 60),
        Some(s) if s < 2 * 86_400 => format!("{}h", s / 3600),
        Some(s) => format!("{}d", s / 86_400),
    }
}

fn cloudwatch(
    conn: &Connection,
    filter: &Filter,
    now: DateTime<Utc>,
    out: &mut Printer,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT aws_region, aws_log_group, aws_log_stream, next_token, start_time, end_time \
         FROM cloudwatch_logs ORDER BY aws_region, aws_log_group, aws_log_stream",
    )?;
    let mut rows = stmt.query([])?;
    let mut table = vec![[
        "REGION",
        "LOG GROUP",
        "LOG STREAM",
        "FROM",
        "UP TO",
        "AGE",
        "TOKEN",
    ]
    .map(String::from)
    .to_vec()];
    while let Some(row) = rows.next()? {
        let region: String = row.get(0)?;
        if !filter.region(Some(&region)) {
            continue;
        }
        let (group, stream): (String, String) = (row.get(1)?, row.get(2)?);
        let token: Option<String> = row.get(3)?;
        let (start, end) = (millis(row.get(4)?), millis(row.get(5)?));
        let age = age(now, end);
        let stamp =
            |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        table.push(vec![
            region.clone(),
            group.clone(),
            stream.clone(),
            stamp(start).unwrap_or_else(|| "-".into()),
            stamp(end).unwrap_or_else(|| "-".into()),
            age_text(age),
            if token.is_some() { "yes" } else { "no" }.into(),
        ]);
        out.record(json!({
            "kind": "cloudwatch_logs",
            "aws_region": region,
            "log_group": group,
            "log_stream": stream,
            "from": stamp(start),
            "up_to": stamp(end),
            "age_seconds": age,
            "has_token": token.is_some(),
        }));
    }
    out.table_or_note(&table, "no CloudWatch Logs positions match");
    Ok(())
}

fn inspector(
    conn: &Connection,
    filter: &Filter,
    now: DateTime<Utc>,
    out: &mut Printer,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT aws_account_id, aws_region, MAX(scan_date) FROM aws_services \
         WHERE service_name = 'inspector' GROUP BY aws_account_id, aws_region \
         ORDER BY aws_account_id, aws_region",
    )?;
    let mut rows = stmt.query([])?;
    let mut table = vec![["ACCOUNT", "REGION", "LAST SCAN", "AGE"]
        .map(String::from)
        .to_vec()];
    while let Some(row) = rows.next()? {
        let (account, region, scan): (String, String, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        if !filter.account(&account) || !filter.region(Some(&region)) {
            continue;
        }
        let when = chrono::NaiveDateTime::parse_from_str(&scan, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.and_utc());
        let age = age(now, when);
        table.push(vec![
            account.clone(),
            region.clone(),
            scan.clone(),
            age_text(age),
        ]);
        out.record(json!({
            "kind": "inspector",
            "aws_account_id": account,
            "aws_region": region,
            "last_scan": scan,
            "age_seconds": age,
        }));
    }
    out.table_or_note(&table, "no Inspector scans match");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_rows_are_read_and_bad_ones_are_none() {
        assert_eq!(date_of(20240315), NaiveDate::from_ymd_opt(2024, 3, 15));
        assert_eq!(date_of(20241399), None);
        assert_eq!(date_of(0), None);
    }

    #[test]
    fn a_region_is_read_from_a_load_balancer_key() {
        let key = "AWSLogs/1/elasticloadbalancing/us-east-2/2024/05/10/1_elasticloadbalancing_us-east-2_app.x_20240510T2340Z_10.0.0.5_a.log.gz";
        assert_eq!(region_in_key(key).as_deref(), Some("us-east-2"));
        assert_eq!(region_in_key("waf/2024/03/15/10/x.gz"), None);
    }

    #[test]
    fn ages_read_as_minutes_hours_or_days() {
        assert_eq!(age_text(Some(120)), "2m");
        assert_eq!(age_text(Some(7200)), "2h");
        assert_eq!(age_text(Some(3 * 86_400)), "3d");
        assert_eq!(age_text(None), "-");
    }
}
