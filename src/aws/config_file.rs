//! `~/.aws/config` as the reference reads it: profiles, their region, retry settings and the
//! `s3 = addressing_style = path` sub-section the Rust SDK does not read itself.

use crate::debug;
use crate::exit::{code, fail};
use anyhow::Result;
use aws_config::retry::RetryConfig;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// Settings of one profile of `~/.aws/config`; nested sections as `s3.addressing_style`.
#[derive(Debug, Default, Clone)]
pub struct ProfileSettings {
    values: HashMap<String, String>,
}

impl ProfileSettings {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AWS_CONFIG_FILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join("config"))
}

/// A small reader for the AWS config file format (INI with indented sub-sections).
pub fn parse_config(text: &str) -> HashMap<String, ProfileSettings> {
    let mut sections: HashMap<String, ProfileSettings> = HashMap::new();
    let mut current: Option<String> = None;
    let mut parent: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            let name = trimmed[1..trimmed.len() - 1].trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            parent = None;
            continue;
        }
        let Some(section) = current.as_ref() else {
            continue;
        };
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().to_string(), value.trim().to_string());
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        let settings = sections.entry(section.clone()).or_default();
        match (&parent, indented) {
            (Some(p), true) => {
                settings.values.insert(format!("{p}.{key}"), value);
            }
            _ => {
                parent = value.is_empty().then(|| key.clone());
                settings.values.insert(key, value);
            }
        }
    }
    sections
}

/// The `region` of a profile in `~/.aws/config` for the services: `[NAME]`, then
/// `[profile NAME]` (fix S6); `[default]` without a profile.
pub fn config_region(profile: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    let sections = parse_config(&text);
    let name = profile.unwrap_or("default");
    [name.to_string(), format!("profile {name}")]
        .iter()
        .find_map(|section| sections.get(section)?.get("region").map(str::to_string))
}

/// The profile's settings as the reference resolves them: only when the config file exists;
/// a named profile is `[NAME]` or `[profile NAME]`; no profile means `[default]`; a missing
/// section ends the run with exit 23.
pub fn profile_settings(profile: Option<&str>) -> Result<Option<ProfileSettings>> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let sections = parse_config(&text);
    let name = match profile {
        Some(p) if sections.contains_key(p) => p.to_string(),
        Some(p) => format!("profile {p}"),
        None => "default".to_string(),
    };
    match sections.get(&name) {
        Some(s) => {
            match s.get("region") {
                Some(r) => debug!(2, "+++ Region '{r}' added to the configuration"),
                None => debug!(2, "+++ No 'region' found in profile '{name}'"),
            }
            Ok(Some(s.clone()))
        }
        None => {
            debug!(
                2,
                "The region for '{name}' must be specified in '~/.aws/config' under the '[{name}]' section."
            );
            Err(fail(
                code::PROFILE_NOT_FOUND,
                format!("No profile named: '{name}' was found in the user config file"),
            ))
        }
    }
}

pub fn retry_config(settings: Option<&ProfileSettings>) -> Result<RetryConfig> {
    let attempts = settings.and_then(|s| s.get("max_attempts"));
    let mode = settings.and_then(|s| s.get("retry_mode"));
    if attempts.is_some() || mode.is_some() {
        debug!(
            2,
            "Retries parameters found in user profile. Using profile retries configuration"
        );
    } else {
        debug!(
            2,
            "No retries configuration found in profile config. Generating default configuration for retries: mode: standard - max_attempts: {DEFAULT_MAX_ATTEMPTS}"
        );
    }
    let max_attempts = match attempts {
        Some(a) => a.parse::<u32>().map_err(|_| {
            fail(
                code::INVALID_KEY_FORMAT,
                "Invalid key or value found in config: max_attempts",
            )
        })?,
        None => DEFAULT_MAX_ATTEMPTS,
    };
    let base = match mode {
        Some("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    Ok(base
        .with_max_attempts(max_attempts.max(1))
        .with_max_backoff(Duration::from_secs(20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_with_nested_s3_section() {
        let text = "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n\
                    max_attempts = 4\n[profile prod]\nregion=eu-west-1\n";
        let c = parse_config(text);
        let d = &c["default"];
        assert_eq!(d.get("region"), Some("us-east-1"));
        assert_eq!(d.get("s3.addressing_style"), Some("path"));
        assert_eq!(d.get("max_attempts"), Some("4"));
        assert_eq!(c["profile prod"].get("region"), Some("eu-west-1"));
    }

    #[test]
    fn retries_default_to_ten_standard() {
        let rc = retry_config(None).unwrap();
        assert_eq!(rc.max_attempts(), 10);
        let mut s = ProfileSettings::default();
        s.values.insert("max_attempts".into(), "3".into());
        assert_eq!(retry_config(Some(&s)).unwrap().max_attempts(), 3);
        s.values.insert("max_attempts".into(), "x".into());
        assert!(retry_config(Some(&s)).is_err());
    }
}
