//! The stdout protocol: `DEBUG:`, `INFO:`, `WARNING:` and `ERROR:` lines.
//!
//! wazuh-modulesd reads the wodle's stdout line by line, so everything goes to stdout (not
//! stderr) and one call prints one whole line. Secrets handed to [`register_secret`] are masked
//! in every line, whatever the debug level, because modulesd forwards these lines into
//! ossec.log and the analysis queue.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::RwLock;

static DEBUG_LEVEL: AtomicU8 = AtomicU8::new(0);
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

pub const REDACTED: &str = "***";

pub fn set_debug_level(level: u8) {
    DEBUG_LEVEL.store(level, Ordering::Relaxed);
}

pub fn debug_level() -> u8 {
    DEBUG_LEVEL.load(Ordering::Relaxed)
}

pub fn enabled(level: u8) -> bool {
    debug_level() >= level
}

/// Mask `secret` in every line printed from now on.
pub fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    if let Ok(mut secrets) = SECRETS.write() {
        secrets.push(secret.to_string());
    }
}

pub fn redact(line: &str) -> String {
    let mut out = line.to_string();
    if let Ok(secrets) = SECRETS.read() {
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
    }
    out
}

/// `text` with every control character but tab written as an escape (`\n`, `\r`, `\x1b`):
/// wazuh-modulesd splits what we print at newlines and acts on `ERROR:` lines, so a key or a
/// message body must never start a line of its own.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    let is_control =
        |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.chars().any(is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn emit(prefix: &str, msg: &str) {
    let line = redact(&escape(msg));
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // A closed stdout must not turn into a panic in the middle of a run.
    let _ = writeln!(lock, "{prefix}{line}");
    let _ = lock.flush();
}

pub fn debug_at(level: u8, msg: &str) {
    if enabled(level) {
        emit("DEBUG: ", msg);
    }
}

pub fn info(msg: &str) {
    emit("INFO: ", msg);
}

pub fn error(msg: &str) {
    emit("ERROR: ", msg);
}

pub fn warning(msg: &str) {
    emit("WARNING: ", msg);
}

/// A plain line with no prefix (the reference prints its deprecation notice this way).
pub fn plain(msg: &str) {
    emit("", msg);
}

/// `debug!(level, "fmt", args...)`: formats only when the level is enabled.
#[macro_export]
macro_rules! debug {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::debug_at($level, &format!($($arg)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_start_a_line() {
        assert_eq!(escape("plain\ttext"), "plain\ttext");
        assert_eq!(
            escape("AWSLogs/x\nERROR: forged\r\u{1b}[2J"),
            "AWSLogs/x\\nERROR: forged\\r\\u{1b}[2J"
        );
        assert!(!escape("a\u{2028}b\u{85}c").contains(['\u{2028}', '\u{85}']));
    }

    #[test]
    fn registered_secrets_are_masked() {
        register_secret("wJalrXUtnFEMI/K7MDENG");
        assert_eq!(
            redact("key=wJalrXUtnFEMI/K7MDENG end"),
            format!("key={REDACTED} end")
        );
        register_secret("");
        assert_eq!(redact("nothing"), "nothing");
    }
}
