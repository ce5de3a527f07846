//! What a person at a shell runs around the scheduled runs: `--check` before the first one,
//! `--status` after many. wazuh-modulesd never passes these flags, so they may print tables.

pub mod check;
pub mod status;

use std::io::Write;

/// Text for a person or JSON lines for a script; every line escaped, as everything we print.
pub struct Printer {
    json: bool,
    out: Box<dyn Write + Send>,
}

impl Printer {
    /// To stdout, as text or (`json`) JSON lines.
    pub fn new(json: bool) -> Self {
        Printer {
            json,
            out: Box::new(std::io::stdout()),
        }
    }

    /// JSON lines into what `--output` names.
    pub fn json_to(path: &std::path::Path) -> anyhow::Result<Self> {
        Ok(Printer {
            json: true,
            out: crate::queue::open_output(path)?,
        })
    }

    fn print(&mut self, line: &str) {
        let line = crate::log::redact(line);
        let _ = writeln!(self.out, "{}", crate::log::escape(&line));
    }

    /// A line of its own in either form.
    pub fn line(&mut self, text: &str, json: serde_json::Value) {
        match self.json {
            true => self.print(&json.to_string()),
            false => self.print(text),
        }
    }

    /// A record that the text form shows in a table instead.
    pub fn record(&mut self, json: serde_json::Value) {
        if self.json {
            self.print(&json.to_string());
        }
    }

    /// A remark for a person; scripts read the records.
    pub fn note(&mut self, text: &str) {
        if !self.json {
            self.print(&format!("  {text}"));
        }
    }

    /// `rows` as a table, or `none` when there is only the header (text form only).
    pub fn table_or_note(&mut self, rows: &[Vec<String>], none: &str) {
        match rows.len() {
            0 | 1 => self.note(none),
            _ => self.table(rows),
        }
    }

    /// Rows in aligned columns, the first row the header (text form only).
    pub fn table(&mut self, rows: &[Vec<String>]) {
        if self.json {
            return;
        }
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|v| v.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in rows {
            let mut line = String::from(" ");
            for (i, value) in row.iter().enumerate() {
                line.push(' ');
                line.push_str(value);
                if i + 1 < row.len() {
                    let pad = widths[i].saturating_sub(value.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad + 1));
                }
            }
            self.print(&line);
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}
