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
    // Python's text mode turns \r\n and lone \r into \n.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut splitter = CsvSplitter::new(delimiter);
    let mut rows: Vec<Vec<String>> = text.chars().filter_map(|c| splitter.push(c)).collect();
    rows.extend(splitter.finish());
    rows
}

/// Python's `csv.reader` state machine, fed one character at a time, so that a stream can be
/// split without scanning a record twice.
struct CsvSplitter {
    delimiter: char,
    state: CsvState,
    row: Vec<String>,
    field: String,
    line_has_content: bool,
}

#[derive(PartialEq)]
enum CsvState {
    Start,
    Field,
    Quoted,
    QuoteInQuoted,
}

impl CsvSplitter {
    fn new(delimiter: char) -> Self {
        CsvSplitter {
            delimiter,
            state: CsvState::Start,
            row: Vec::new(),
            field: String::new(),
            line_has_content: false,
        }
    }

    /// The record that `c` completes, if any (a `\n` outside quotes ends a non-empty line).
    fn push(&mut self, c: char) -> Option<Vec<String>> {
        use CsvState::*;
        if c == '\n' && self.state != Quoted {
            self.state = Start;
            let had_content = std::mem::take(&mut self.line_has_content);
            if !had_content {
                self.field.clear();
                return None;
            }
            self.row.push(std::mem::take(&mut self.field));
            return Some(std::mem::take(&mut self.row));
        }
        self.line_has_content = true;
        let delimiter = self.delimiter;
        self.state = match self.state {
            Start if c == '"' => Quoted,
            Start | Field if c == delimiter => {
                self.row.push(std::mem::take(&mut self.field));
                Start
            }
            Start | Field => {
                self.field.push(c);
                Field
            }
            Quoted if c == '"' => QuoteInQuoted,
            Quoted => {
                self.field.push(c);
                Quoted
            }
            QuoteInQuoted if c == '"' => {
                self.field.push('"');
                Quoted
            }
            QuoteInQuoted if c == delimiter => {
                self.row.push(std::mem::take(&mut self.field));
                Start
            }
            QuoteInQuoted => {
                self.field.push(c);
                Field
            }
        };
        None
    }

    /// Whether a record has started and not ended.
    fn in_record(&self) -> bool {
        self.line_has_content || !self.row.is_empty() || self.state == CsvState::Quoted
    }

    /// The last record, at the end of the text (it may lack its newline).
    fn finish(&mut self) -> Option<Vec<String>> {
        self.state = CsvState::Start;
        if !std::mem::take(&mut self.line_has_content) {
            return None;
        }
        self.row.push(std::mem::take(&mut self.field));
        Some(std::mem::take(&mut self.row))
    }
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
                event.insert(name.as_ref().into(), Value::from(v));
            }
            None => break,
        }
    }
    let rest: Vec<Value> = values.map(Value::from).collect();
    if !rest.is_empty() {
        let key = match extras {
            Extras::NullKey => "null",
            Extras::ExtraFields => "extra_fields",
        };
        event.insert(key.into(), Value::Array(rest));
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

/// The object, decompressed, if it is no larger than [`crate::limits::MAX_WHOLE_OBJECT`].
pub fn read_whole(input: &mut dyn std::io::BufRead) -> Result<Vec<u8>, ParseError> {
    let mut data = Vec::new();
    use std::io::Read;
    input
        .take(crate::limits::MAX_WHOLE_OBJECT as u64 + 1)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() > crate::limits::MAX_WHOLE_OBJECT {
        return Err(ParseError::invalid(format!(
            "the object is larger than {} MiB decompressed, the limit for objects read whole",
            crate::limits::MAX_WHOLE_OBJECT / crate::limits::MIB
        )));
    }
    Ok(data)
}

/// Python `csv.reader` records read from a stream, one line at a time.
pub struct CsvReader<'a> {
    lines: Lines<'a>,
    splitter: CsvSplitter,
    max_record_bytes: usize,
}

impl<'a> CsvReader<'a> {
    pub fn new(input: &'a mut dyn std::io::BufRead, delimiter: char) -> Self {
        CsvReader {
            lines: Lines::new(input),
            splitter: CsvSplitter::new(delimiter),
            max_record_bytes: MAX_LINE_BYTES,
        }
    }

    /// The next record; a quoted field may span lines.
    pub fn next_row(&mut self) -> Result<Option<Vec<String>>, ParseError> {
        let mut record_bytes = 0;
        loop {
            let Some(line) = self.lines.next_line()? else {
                return Ok(self.splitter.finish());
            };
            record_bytes += line.len();
            if record_bytes > self.max_record_bytes {
                return Err(ParseError::invalid(format!(
                    "a record is longer than {} MiB",
                    self.max_record_bytes / (1024 * 1024)
                )));
            }
            // Lines end in \n, which is the only character that can end a record.
            if let Some(row) = line.chars().filter_map(|c| self.splitter.push(c)).last() {
                return Ok(Some(row));
            }
            if !self.splitter.in_record() {
                // Empty lines are no record and don't count towards one.
                record_bytes = 0;
            }
        }
    }
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
    fn csv_reader_splits_as_csv_rows_does() {
        let samples = [
            "a b \"c d\" e\n\nf  g\n",
            "x,\"1,2\",\"say \"\"hi\"\"\"\r\ny,\"multi\r\nline\"\r\n",
            "\"open quote never closed\nnext line\n",
            "\"ab\"cd e\rlast without newline",
            "\n\n\n",
        ];
        for text in samples {
            for delimiter in [' ', ','] {
                let mut input = text.as_bytes();
                let mut reader = CsvReader::new(&mut input, delimiter);
                let mut got = Vec::new();
                while let Some(row) = reader.next_row().unwrap() {
                    got.push(row);
                }
                assert_eq!(
                    got,
                    csv_rows(text, delimiter),
                    "{text:?} split on {delimiter:?}"
                );
            }
        }
    }

    #[test]
    fn empty_lines_do_not_add_up_to_an_oversized_record() {
        let cap = 1024 * 1024;
        let text = format!("{}a b\n\"{}\n", "\n".repeat(cap + 10), "x\n".repeat(cap));
        let mut input = text.as_bytes();
        let mut reader = CsvReader::new(&mut input, ' ');
        reader.max_record_bytes = cap;
        assert_eq!(reader.next_row().unwrap().unwrap(), ["a", "b"]);
        // A quoted field over many lines does add up.
        assert!(matches!(reader.next_row(), Err(ParseError::Invalid(_))));
    }

    #[test]
    fn invalid_utf8_is_a_parse_error() {
        let mut input: &[u8] = b"ok\n\xff\xfe\n";
        let mut lines = Lines::new(&mut input);
        assert!(lines.next_line().is_ok());
        assert!(matches!(lines.next_line(), Err(ParseError::Invalid(_))));
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
