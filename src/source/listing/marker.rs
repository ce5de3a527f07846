//! The start-marker policy: the key a listing starts after, from the type's rules, the last
//! recorded key and the run's options. Pure: the caller looks the recorded key up.

use crate::bucket::{MarkerRule, TypeInfo};
use chrono::{Duration, NaiveDate};
use regex::Regex;
use std::sync::LazyLock;

/// What the run says about where to start (and, with `--only_logs_before`, to stop).
#[derive(Debug, Clone, Copy)]
pub struct MarkerOptions {
    pub only_logs_after: Option<NaiveDate>,
    /// The last day read; see [`super::until`].
    pub only_logs_before: Option<NaiveDate>,
    /// The start date when neither the state nor `--only_logs_after` gives one.
    pub today: NaiveDate,
    pub reparse: bool,
}

/// The SQL `LIKE` pattern of the recorded keys the marker starts from: the listing's own
/// folder for the late-arrival types (each region rewinds on its own), else the run's prefix
/// (the reference's query).
pub fn recorded_keys_like(info: &TypeInfo, listing_prefix: &str, run_prefix: &str) -> String {
    if info.late_arrival() {
        format!("{listing_prefix}%")
    } else {
        format!("{run_prefix}%")
    }
}

/// The key the listing of `listing_prefix` starts after.
pub fn start_after(
    info: &TypeInfo,
    listing_prefix: &str,
    last_recorded: Option<&str>,
    opts: MarkerOptions,
) -> String {
    let day_marker = |date: NaiveDate| format!("{listing_prefix}{}", info.date_style.format(date));
    let first_day = opts.only_logs_after.unwrap_or(opts.today);
    let mut marker = match last_recorded {
        _ if opts.reparse => day_marker(first_day),
        Some(last) if info.marker == MarkerRule::RewindOneDay => match day_of(last) {
            Some(day) => day_marker(day - Duration::days(1)),
            None => last.to_string(),
        },
        Some(last) => last.to_string(),
        None => day_marker(first_day),
    };
    // Config's listing is floored by its page filter (`config.rs`), not by the marker: the
    // reference starts at the last recorded key's year whatever --only_logs_after says.
    if let (Some(date), false) = (opts.only_logs_after, info.marker == MarkerRule::YearFolder) {
        marker = marker.max(day_marker(date));
    }
    if let Some(sep) = info.marker_separator {
        let n = listing_prefix.len();
        if let (Some(head), Some(tail)) = (marker.get(..n), marker.get(n..)) {
            marker = format!("{head}{}", tail.replace('/', &sep.to_string()));
        }
    }
    match info.marker {
        MarkerRule::YearFolder => cut(&marker, year_folder()),
        MarkerRule::DayFolder => {
            let cut_marker = cut(&marker, guardduty_day_folder());
            if cut_marker != marker {
                crate::debug!(
                    2,
                    "+++ GuardDuty: Rewound marker to day folder: {cut_marker}"
                );
            }
            cut_marker
        }
        MarkerRule::LastKey | MarkerRule::RewindOneDay => marker,
    }
}

/// The first `YYYY/MM/DD` of a key.
fn day_of(key: &str) -> Option<NaiveDate> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\d{4}/\d{2}/\d{2}").expect("static regex"));
    let re = &*RE;
    NaiveDate::parse_from_str(re.find(key)?.as_str(), "%Y/%m/%d").ok()
}

fn year_folder() -> &'static Regex {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(.*?/\d{4}/)").expect("static regex"));
    &RE
}

fn guardduty_day_folder() -> &'static Regex {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(.*?/GuardDuty/[^/]+/\d{4}/\d{2}/\d{2}/)").expect("static regex")
    });
    &RE
}

/// The marker cut to the first capture of `re`, or whole when it does not match.
fn cut(marker: &str, re: &Regex) -> String {
    match re.captures(marker) {
        Some(c) => c[1].to_string(),
        None => marker.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::{cloudtrail, config, custom, guardduty, load_balancers, server_access};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn opts(only_logs_after: Option<NaiveDate>, reparse: bool) -> MarkerOptions {
        MarkerOptions {
            only_logs_after,
            only_logs_before: None,
            today: day(2024, 6, 20),
            reparse,
        }
    }

    const TRAIL: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";

    #[test]
    fn without_state_the_listing_starts_at_only_logs_after_or_today() {
        let info = &cloudtrail::INFO;
        let after = Some(day(2024, 3, 14));
        assert_eq!(
            start_after(info, TRAIL, None, opts(after, false)),
            format!("{TRAIL}2024/03/14")
        );
        assert_eq!(
            start_after(info, TRAIL, None, opts(None, false)),
            format!("{TRAIL}2024/06/20")
        );
    }

    #[test]
    fn cloudtrail_and_load_balancers_rewind_to_the_previous_day() {
        let last =
            format!("{TRAIL}2024/03/01/111122223333_CloudTrail_us-east-1_20240301T0010Z_a.json.gz");
        assert_eq!(
            start_after(&cloudtrail::INFO, TRAIL, Some(&last), opts(None, false)),
            format!("{TRAIL}2024/02/29"),
            "across a month end, leap day included"
        );
        let lb = "AWSLogs/111122223333/elasticloadbalancing/eu-west-1/";
        let last = format!("{lb}2024/01/01/x_20240101T0000Z_1.2.3.4_y.log.gz");
        assert_eq!(
            start_after(&load_balancers::ALB, lb, Some(&last), opts(None, false)),
            format!("{lb}2023/12/31")
        );
        assert_eq!(
            recorded_keys_like(&load_balancers::NLB, lb, "p/"),
            format!("{lb}%")
        );
        assert_eq!(recorded_keys_like(&custom::INFO, lb, "p/"), "p/%");
    }

    #[test]
    fn the_marker_never_goes_below_only_logs_after() {
        let last = format!("{TRAIL}2024/03/01/k.json.gz");
        let after = Some(day(2024, 3, 10));
        assert_eq!(
            start_after(&cloudtrail::INFO, TRAIL, Some(&last), opts(after, false)),
            format!("{TRAIL}2024/03/10")
        );
        let later = format!("{TRAIL}2024/03/12/k.json.gz");
        assert_eq!(
            start_after(&custom::INFO, TRAIL, Some(&later), opts(after, false)),
            later,
            "a later recorded key is kept as it is"
        );
    }

    #[test]
    fn reparse_starts_at_the_first_day_whatever_was_recorded() {
        let last = format!("{TRAIL}2024/05/01/k.json.gz");
        assert_eq!(
            start_after(
                &cloudtrail::INFO,
                TRAIL,
                Some(&last),
                opts(Some(day(2024, 1, 2)), true)
            ),
            format!("{TRAIL}2024/01/02")
        );
    }

    #[test]
    fn config_starts_at_the_year_folder_of_unpadded_dates() {
        let prefix = "AWSLogs/111122223333/Config/us-east-1/";
        let after = Some(day(2024, 9, 30));
        assert_eq!(
            start_after(&config::INFO, prefix, None, opts(after, false)),
            format!("{prefix}2024/")
        );
        let last = format!("{prefix}2023/12/5/ConfigHistory/x.json.gz");
        assert_eq!(
            start_after(&config::INFO, prefix, Some(&last), opts(after, false)),
            format!("{prefix}2023/"),
            "not floored: the page filter drops the days before --only_logs_after"
        );
    }

    #[test]
    fn native_guardduty_goes_back_to_the_marker_day_folder() {
        let prefix = "AWSLogs/111122223333/GuardDuty/eu-west-1/";
        let last = format!("{prefix}2024/03/14/abc.jsonl.gz");
        assert_eq!(
            start_after(&guardduty::NATIVE, prefix, Some(&last), opts(None, false)),
            format!("{prefix}2024/03/14/")
        );
        assert_eq!(
            start_after(
                &guardduty::KINESIS,
                "fh/",
                Some("fh/2024/03/14/a"),
                opts(None, false)
            ),
            "fh/2024/03/14/a"
        );
    }

    #[test]
    fn server_access_dates_use_dashes_after_the_prefix() {
        let after = Some(day(2024, 2, 6));
        assert_eq!(
            start_after(&server_access::INFO, "logs/a/", None, opts(after, false)),
            "logs/a/2024-02-06"
        );
        assert_eq!(
            start_after(
                &server_access::INFO,
                "logs/a/",
                Some("logs/a/2024-02-07-00-05-12-X"),
                opts(after, false)
            ),
            "logs/a/2024-02-07-00-05-12-X"
        );
    }
}
