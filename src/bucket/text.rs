//! Text formats shared by the line-oriented types: Python `csv` splitting (the reference reads
//! VPC, load-balancer and Umbrella logs with `csv.DictReader`), rows to events, and
//! concatenated JSON values.

use super::{Event, ParseError};
use crate::json::Value;
use std::io::BufRead;

/// The object as text. Python decodes it as UTF-8 in text mode and fails on invalid bytes.
pub fn utf8(data: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(data)
        .map_err(|e| ParseError::invalid(format!("UnicodeDecodeError('utf-8': {e})")))
}

/// Records as Python's `csv.reader(delimiter=...)` reads them: `"` quotes a field (`""` is a
/// quote inside it, a quoted field may span lines), text after a closing quote is kept, every
/// delimiter separates a field (no collapsing of runs), and empty lines are no records.
pub fn csv_rows(text: &str, delimiter: char) -> Vec<Vec<String>> {
    #[derive(PartialEq)]
    enum S {
        Start,
        Field,
        Quoted,
        QuoteInQuoted,
    }
    // Python's text mode turns \r\n and lone \r into \n.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = S::Start;
    let mut line_has_content = false;
    for c in text.chars() {
        if c == '\n' && state != S::Quoted {
            if line_has_content {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            field.clear();
            state = S::Start;
            line_has_content = false;
            continue;
        }
        line_has_content = true;
        state = match state {
            S::Start if c == '"' => S::Quoted,
            S::Start | S::Field if c == delimiter => {
                row.push(std::mem::take(&mut field));
                S::Start
            }
            S::Start | S::Field => {
                field.push(c);
                S::Field
            }
            S::Quoted if c == '"' => S::QuoteInQuoted,
            S::Quoted => {
                field.push(c);
                S::Quoted
            }
            S::QuoteInQuoted if c == '"' => {
                field.push('"');
                S::Quoted
            }
            S::QuoteInQuoted if c == delimiter => {
                row.push(std::mem::take(&mut field));
                S::Start
            }
            S::QuoteInQuoted => {
                field.push(c);
                S::Field
            }
        };
    }
    if line_has_content {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Where values beyond the named columns go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extras {
    /// `csv.DictReader`'s rest key `None`, serialized as `"null"` (kept for VPC and custom rows).
    NullKey,
    /// A list under `extra_fields` (D2: load balancers and Umbrella).
    ExtraFields,
}

/// One row as an event: named columns in order, missing ones left out, extras as `extras`.
pub fn row_event<S: AsRef<str>>(names: &[S], row: Vec<String>, extras: Extras) -> Event {
    let mut event = Event::new();
    let mut values = row.into_iter();
    for name in names {
        match values.next() {
            Some(v) => {
                event.insert(name.as_ref().to_string(), Value::String(v));
            }
            None => break,
        }
    }
    let rest: Vec<Value> = values.map(Value::String).collect();
    if !rest.is_empty() {
        let key = match extras {
            Extras::NullKey => "null",
            Extras::ExtraFields => "extra_fields",
        };
        event.insert(key.to_string(), Value::Array(rest));
    }
    event
}

fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// JSON values one after another, with optional JSON whitespace between and after them (D8).
/// Each item is a value or the error at the point where reading stopped.
pub fn concatenated_json(text: &str) -> Vec<Result<Value, serde_json::Error>> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii() && is_json_space(c as u8));
        if rest.is_empty() {
            return out;
        }
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                let used = stream.byte_offset();
                out.push(Ok(v));
                rest = &rest[used..];
            }
            Some(Err(e)) => {
                out.push(Err(e));
                return out;
            }
            None => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn csv_splitting_follows_python() {
        assert_eq!(
            csv_rows("a b \"c d\" e\n\nf  g\n", ' '),
            vec![vec!["a", "b", "c d", "e"], vec!["f", "", "g"]]
        );
        assert_eq!(
            csv_rows("x,\"1,2\",\"say \"\"hi\"\"\"\r\n", ','),
            vec![vec!["x", "1,2", "say \"hi\""]]
        );
        assert_eq!(
            csv_rows("\"multi\nline\" z", ' '),
            vec![vec!["multi\nline", "z"]]
        );
        assert_eq!(csv_rows("last line without newline", ' ').len(), 1);
        assert!(csv_rows("", ' ').is_empty());
        assert_eq!(csv_rows("\"ab\"cd e", ' '), vec![vec!["abcd", "e"]]);
        assert_eq!(csv_rows("é ü", ' '), vec![vec!["é", "ü"]]);
    }

    #[test]
    fn rows_name_columns_and_keep_extras() {
        let names = ["a", "b"];
        let row = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            crate::json::Value::Object(row_event(
                &names,
                row(&["1", "2", "3", "4"]),
                Extras::ExtraFields
            )),
            json!({"a": "1", "b": "2", "extra_fields": ["3", "4"]})
        );
        assert_eq!(
            crate::json::Value::Object(row_event(&names, row(&["1", "2", "3"]), Extras::NullKey)),
            json!({"a": "1", "b": "2", "null": ["3"]})
        );
        assert_eq!(
            crate::json::Value::Object(row_event(&names, row(&["1"]), Extras::NullKey)),
            json!({"a": "1"})
        );
    }

    #[test]
    fn concatenated_values_with_whitespace() {
        let got = concatenated_json("{\"a\":1}{\"b\":2}\n {\"c\":3}\n");
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|r| r.is_ok()));
        let got = concatenated_json("{\"a\":1} {bad");
        assert!(got[0].is_ok() && got[1].is_err());
    }
}

/// The longest line (or CSV record) accepted; a longer one fails its object instead of
/// exhausting memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Lines as Python's text mode gives them: `\n`, `\r\n` and `\r` all end a line, which is
/// returned ending in `\n` (the last one may have no terminator). Invalid UTF-8 is an error.
pub struct Lines<'a> {
    input: &'a mut dyn BufRead,
    pending: std::collections::VecDeque<String>,
    buf: Vec<u8>,
}

impl<'a> Lines<'a> {
    pub fn new(input: &'a mut dyn BufRead) -> Self {
        Lines {
            input,
            pending: Default::default(),
            buf: Vec::new(),
        }
    }

    pub fn next_line(&mut self) -> Result<Option<String>, ParseError> {
        use std::io::Read;
        if let Some(l) = self.pending.pop_front() {
            return Ok(Some(l));
        }
        self.buf.clear();
        let limit = (MAX_LINE_BYTES + 1) as u64;
        let n = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(read_error)?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(ParseError::invalid(format!(
                "a line is longer than {} MiB",
                MAX_LINE_BYTES / (1024 * 1024)
            )));
        }
        let text = utf8(&self.buf)?;
        let text = text.strip_suffix("\r\n").map(|t| format!("{t}\n"));
        let text = text
            .as_deref()
            .unwrap_or_else(|| std::str::from_utf8(&self.buf).unwrap_or(""));
        // A lone \r ends a line too.
        let mut parts = text.split('\r').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_some() {
                self.pending.push_back(format!("{part}\n"));
            } else if !part.is_empty() {
                self.pending.push_back(part.to_string());
            }
        }
        Ok(self.pending.pop_front())
    }
}

/// An I/O error while reading an object: a decompression error (told apart by the caller) or
/// text that is not UTF-8.
pub fn read_error(e: std::io::Error) -> ParseError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        ParseError::invalid(format!("UnicodeDecodeError('utf-8': {e})"))
    } else {
        ParseError::Read(e.to_string())
    }
}

/// Python `csv.reader` records read from a stream, one line at a time.
pub struct CsvReader<'a> {
    lines: Lines<'a>,
    delimiter: char,
}

impl<'a> CsvReader<'a> {
    pub fn new(input: &'a mut dyn std::io::BufRead, delimiter: char) -> Self {
        CsvReader {
            lines: Lines::new(input),
            delimiter,
        }
    }

    /// The next record; a quoted field may span lines.
    pub fn next_row(&mut self) -> Result<Option<Vec<String>>, ParseError> {
        let mut record = String::new();
        loop {
            let Some(line) = self.lines.next_line()? else {
                if record.is_empty() {
                    return Ok(None);
                }
                return Ok(csv_rows(&record, self.delimiter).into_iter().next());
            };
            record.push_str(&line);
            if record.len() > MAX_LINE_BYTES {
                return Err(ParseError::invalid("a record is longer than 64 MiB"));
            }
            if !in_quotes(&record, self.delimiter) {
                match csv_rows(&record, self.delimiter).into_iter().next() {
                    Some(row) => return Ok(Some(row)),
                    // An empty line is no record.
                    None => record.clear(),
                }
            }
        }
    }
}

/// Whether `text` ends inside a quoted field (the record goes on on the next line).
fn in_quotes(text: &str, delimiter: char) -> bool {
    let mut quoted = false;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            continue;
        }
        if c == '"' && at_field_start {
            quoted = true;
        }
        at_field_start = c == delimiter || c == '\n';
    }
    quoted
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn lines_follow_universal_newlines() {
        let mut input: &[u8] = b"a\r\nb\rc\nd";
        let mut lines = Lines::new(&mut input);
        let mut got = Vec::new();
        while let Some(l) = lines.next_line().unwrap() {
            got.push(l);
        }
        assert_eq!(got, ["a\n", "b\n", "c\n", "d"]);
    }

    #[test]
    fn csv_reader_joins_quoted_lines_and_skips_empty_ones() {
        let mut input: &[u8] = b"a \"b\nc\" d\n\ne f\n";
        let mut r = CsvReader::new(&mut input, ' ');
        assert_eq!(r.next_row().unwrap().unwrap(), ["a", "b\nc", "d"]);
        assert_eq!(r.next_row().unwrap().unwrap(), ["e", "f"]);
        assert_eq!(r.next_row().unwrap(), None);
    }

    #[test]
    fn invalid_utf8_is_a_parse_error() {
        let mut input: &[u8] = b"ok\n\xff\xfe\n";
        let mut lines = Lines::new(&mut input);
        assert!(lines.next_line().is_ok());
        assert!(matches!(lines.next_line(), Err(ParseError::Invalid(_))));
    }
}
