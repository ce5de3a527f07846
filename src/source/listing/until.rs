//! The end of a listing's window (`--only_logs_before`): which listed objects are past it,
//! judged by the date in their key, and when the rest of a listing can be left unread.

use crate::bucket::{DateStyle, Layout, Listed, TypeInfo};
use chrono::{Datelike, NaiveDate};

/// What to do with a listed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Read,
    /// Past the window (or no date to judge by): not read, not recorded.
    Skip,
    /// Past the window, and so is every key after it in this listing.
    Stop,
}

/// `object` against the last day of the window.
pub fn judge(info: &TypeInfo, object: &Listed, last_day: Option<NaiveDate>) -> Verdict {
    let Some(last_day) = last_day else {
        return Verdict::Read;
    };
    let last = i64::from(last_day.year()) * 10_000
        + i64::from(last_day.month()) * 100
        + i64::from(last_day.day());
    match info.creation_date(object) {
        Some(date) if date <= last => Verdict::Read,
        Some(_) if keys_sort_by_date(info) => Verdict::Stop,
        _ => Verdict::Skip,
    }
}

/// Within one account/region listing, padded date folders sort as text in date order.
/// Config's un-padded folders do not (`2024/10/1` < `2024/9/30`), and a custom prefix may
/// hold keys of other shapes after its dated ones: those are filtered, never cut.
fn keys_sort_by_date(info: &TypeInfo) -> bool {
    info.date_style != DateStyle::Unpadded && !matches!(info.layout, Layout::Prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::{cloudtrail, config, custom};

    fn listed(key: &str) -> Listed {
        Listed {
            key: key.to_string(),
            last_modified: None,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn without_a_window_everything_is_read() {
        let o = listed("AWSLogs/1/CloudTrail/r/2030/01/01/1_CloudTrail_r_20300101T0000Z_a.json.gz");
        assert_eq!(judge(&cloudtrail::INFO, &o, None), Verdict::Read);
    }

    #[test]
    fn the_last_day_is_inside_and_a_later_one_ends_a_sorted_listing() {
        let key = |d: &str| format!("AWSLogs/1/CloudTrail/r/x/1_CloudTrail_r_{d}T2359Z_a.json.gz");
        let last = day(2024, 3, 5);
        assert_eq!(
            judge(&cloudtrail::INFO, &listed(&key("20240305")), last),
            Verdict::Read
        );
        assert_eq!(
            judge(&cloudtrail::INFO, &listed(&key("20240306")), last),
            Verdict::Stop
        );
    }

    #[test]
    fn config_and_custom_layouts_are_filtered_not_cut() {
        let config_key = "AWSLogs/1/Config/r/2024/10/1/ConfigHistory/1_Config_r_ConfigHistory_x_20241001T0000Z_a.json.gz";
        assert_eq!(
            judge(&config::INFO, &listed(config_key), day(2024, 9, 30)),
            Verdict::Skip
        );
        assert_eq!(
            judge(
                &custom::INFO,
                &listed("logs/2024/03/07/a.json"),
                day(2024, 3, 5)
            ),
            Verdict::Skip
        );
        assert_eq!(
            judge(
                &custom::INFO,
                &listed("logs/2024/03/05/a.json"),
                day(2024, 3, 5)
            ),
            Verdict::Read
        );
    }

    #[test]
    fn a_key_without_a_date_is_left_out_of_a_window() {
        assert_eq!(
            judge(&custom::INFO, &listed("logs/undated.json"), day(2024, 3, 5)),
            Verdict::Skip
        );
    }
}
