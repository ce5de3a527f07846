//! The values of the command line as the reference's argparse checks them: bucket and queue
//! names, role ARNs and durations, account ids, regions, key prefixes, dates; and the
//! reference's multi-letter short flags (`-df`, `-sr`, ...), which clap does not take.

use chrono::NaiveDate;
use regex::Regex;
use std::sync::LazyLock;

/// Multi-letter short flags of the reference and the long flag each stands for.
const MULTI_LETTER_SHORTS: &[(&str, &str)] = &[
    ("-df", "--discard-field"),
    ("-dr", "--discard-regex"),
    ("-st", "--sts_endpoint"),
    ("-se", "--service_endpoint"),
    ("-rd", "--iam_role_duration"),
    ("-sr", "--service"),
    ("-sb", "--subscriber"),
];

/// A comma list given as one argument (clap would take `Vec<String>` as repeated values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List(pub Vec<String>);

/// Rewrite argparse-style multi-letter short flags (`-df x`, `-df=x`) to long flags.
pub fn normalize_argv(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    argv.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            if i == 0 {
                return arg;
            }
            let Some(s) = arg.to_str() else { return arg };
            for (short, long) in MULTI_LETTER_SHORTS {
                if s == *short {
                    return (*long).into();
                }
                if let Some(value) = s.strip_prefix(short).and_then(|r| r.strip_prefix('=')) {
                    return format!("{long}={value}").into();
                }
            }
            arg
        })
        .collect()
}

pub fn valid_bucket_name(arg: &str) -> Result<String, String> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$").expect("static regex"));
    let shape = &*RE;
    // The reference's negative look-ahead, spelled out: Rust's regex has no look-around.
    let reserved = arg.starts_with("xn--") || arg.ends_with("-s3alias") || arg.ends_with("--ol-s3");
    if shape.is_match(arg) && !reserved {
        Ok(arg.to_string())
    } else {
        Err(format!("'{arg}' isn't a valid bucket name."))
    }
}

/// `--allowed_buckets`: bucket names, each optionally with `:` and its 12-digit owner.
pub fn allowed_buckets(arg: &str) -> Result<String, String> {
    for entry in arg.split(',').filter(|e| !e.is_empty()) {
        let (bucket, owner) = match entry.split_once(':') {
            Some((b, o)) => (b, Some(o)),
            None => (entry, None),
        };
        valid_bucket_name(bucket)?;
        if let Some(owner) = owner {
            if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("'{owner}' isn't a 12-digit account id."));
            }
        }
    }
    Ok(arg.to_string())
}

pub fn valid_sqs_name(arg: &str) -> Result<String, String> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_-]{1,80}$").expect("static regex"));
    if RE.is_match(arg) {
        Ok(arg.to_string())
    } else {
        Err(
            "Invalid SQS Name specified. Value must be up to 80 characters and the valid values \
             are alphanumeric characters, hyphens (-), and underscores (_)"
                .to_string(),
        )
    }
}

pub fn valid_iam_role_arn(arg: &str) -> Result<String, String> {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^arn:[^:\n]*:[^:\n]*:[^:\n]*:[^:\n]*:([^:/\n]*[:/])?.*$")
            .expect("static regex")
    });
    let re = &*RE;
    if re.is_match(arg) {
        Ok(arg.to_string())
    } else {
        Err("Invalid ARN Role specified. Value must be a valid ARN Role.".to_string())
    }
}

pub fn valid_iam_role_duration(arg: &str) -> Result<u32, String> {
    if arg.is_empty() || !arg.chars().all(|c| c.is_ascii_digit()) {
        return Err("Invalid session duration specified. Value must be a valid number.".into());
    }
    match arg.parse::<u32>() {
        Ok(n) if (900..=3600).contains(&n) => Ok(n),
        _ => Err("Invalid session duration specified. Value must be between 900 and 3600.".into()),
    }
}

pub fn valid_account_ids(arg: &str) -> Result<List, String> {
    let ids: Vec<String> = arg.split(',').map(str::to_string).collect();
    for id in &ids {
        let trimmed = id.trim();
        let digits = !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit());
        if !digits || id.chars().count() != 12 {
            return Err(format!(
                "Not valid AWS account ID (numeric digits only): '{arg}'."
            ));
        }
    }
    Ok(List(ids))
}

pub fn valid_regions(arg: &str) -> Result<List, String> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([a-z]{2}(-gov)?)-([a-z]+)-\d$").expect("static regex"));
    let re = &*RE;
    if arg.is_empty() {
        return Ok(List(Vec::new()));
    }
    let mut regions = Vec::new();
    for region in arg.split(',') {
        if !re.is_match(region) {
            return Err(format!(
                "WARNING: The region '{region}' has not a valid format.'"
            ));
        }
        let r = region.trim();
        if !r.is_empty() {
            regions.push(r.to_string());
        }
    }
    regions.sort();
    regions.dedup();
    Ok(List(regions))
}

const KEY_CHARS_TO_AVOID: &str = "\\{}^%`[]'\"<>~#|";
const KEY_XML_CONSTRAINTS: &[&str] = &[
    "&apos;", "&quot;", "&amp;", "&lt;", "&gt;", "&#13;", "&#10;",
];

fn check_key(arg: &str) -> Result<(), String> {
    let bad_char = arg.chars().any(|c| KEY_CHARS_TO_AVOID.contains(c));
    let bad_entity = KEY_XML_CONSTRAINTS.iter().any(|e| arg.contains(e));
    if bad_char || bad_entity {
        return Err(format!(
            "'{arg}' has an invalid character. Avoid to use '{KEY_CHARS_TO_AVOID}' or '{}'.",
            KEY_XML_CONSTRAINTS.concat()
        ));
    }
    Ok(())
}

pub fn valid_key(arg: &str) -> Result<String, String> {
    check_key(arg)?;
    if !arg.is_empty() && !arg.ends_with('/') {
        return Ok(format!("{arg}/"));
    }
    Ok(arg.to_string())
}

pub fn valid_key_no_slash(arg: &str) -> Result<String, String> {
    check_key(arg)?;
    Ok(arg.to_string())
}

/// `YYYY-MMM-DD` as Python's `strptime("%Y-%b-%d")` reads it: month abbreviations in any case,
/// one- or two-digit days, real calendar dates only.
pub fn valid_date(arg: &str) -> Result<NaiveDate, String> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let err = || format!("Argument not a valid date in format YYYY-MMM-DD: '{arg}'.");
    let parts: Vec<&str> = arg.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(err());
    };
    if year.len() != 4 || !year.chars().all(|c| c.is_ascii_digit()) {
        return Err(err());
    }
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .ok_or_else(err)?;
    if day.is_empty() || day.len() > 2 || !day.chars().all(|c| c.is_ascii_digit()) {
        return Err(err());
    }
    let (y, d) = (
        year.parse::<i32>().map_err(|_| err())?,
        day.parse::<u32>().map_err(|_| err())?,
    );
    NaiveDate::from_ymd_opt(y, month as u32 + 1, d).ok_or_else(err)
}
