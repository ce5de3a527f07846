//! CSV as the reference's buckets subscriber reads it: the dialect that Python's
//! `csv.Sniffer().sniff` guesses from the header line, and `csv.reader` with that dialect
//! (kept 22). Python's rules are followed, odd ones included: a header without a `,`, tab,
//! `;`, space or `:` gets its most frequent character as the delimiter, and a plain header
//! gives a dialect where a doubled quote is not an escape.

/// What the sniffer guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: char,
    pub quote: char,
    pub doublequote: bool,
    pub skipinitialspace: bool,
}

use crate::limits::TreeBudget;
use crate::pipeline::format::ParseError;

const PREFERRED: [char; 5] = [',', '\t', ';', ' ', ':'];

/// `csv.Sniffer().sniff(line)`; `None` where Python raises "Could not determine delimiter".
pub fn sniff(line: &str) -> Option<Dialect> {
    if let Some(d) = guess_from_quotes(line) {
        return Some(d);
    }
    let delimiter = guess_delimiter(line)?;
    Some(Dialect {
        delimiter,
        quote: '"',
        doublequote: false,
        skipinitialspace: skips_initial_space(line, delimiter),
    })
}

fn skips_initial_space(line: &str, delimiter: char) -> bool {
    line.matches(delimiter).count() == line.matches(&format!("{delimiter} ")[..]).count()
}

/// The sniffer's first guess, from quoted fields (`,"a",` or `"a",` at the line's start):
/// the most frequent quote and the most frequent character before or after it.
fn guess_from_quotes(line: &str) -> Option<Dialect> {
    let chars: Vec<char> = line.chars().collect();
    let is_delim =
        |c: char| !(c.is_alphanumeric() || c == '_' || c == '\n' || c == '"' || c == '\'');
    let (mut quotes, mut delims) = (Vec::new(), Vec::new());
    let mut spaces = 0;
    let mut i = 0;
    while i < chars.len() {
        let q = chars[i];
        let opens_field = i == 0
            || is_delim(chars[i - 1])
            || (chars[i - 1] == ' ' && i >= 2 && is_delim(chars[i - 2]));
        if (q == '"' || q == '\'') && opens_field {
            if let Some(end) = chars[i + 1..]
                .iter()
                .position(|&c| c == q)
                .map(|p| i + 1 + p)
            {
                let after = chars.get(end + 1).copied();
                if after.is_none() || after.is_some_and(is_delim) {
                    quotes.push(q);
                    let before = (i > 0).then(|| chars[i - 1]);
                    let d = match before {
                        Some(' ') if i >= 2 => Some(chars[i - 2]),
                        Some(c) => Some(c),
                        None => after,
                    };
                    if let Some(d) = d.filter(|&d| is_delim(d)) {
                        delims.push(d);
                        spaces += usize::from(before == Some(' '));
                    }
                    i = end + 1;
                    continue;
                }
            }
        }
        i += 1;
    }
    let quote = most_frequent(&quotes)?;
    let delimiter = most_frequent(&delims)?;
    let doubled = format!("{quote}{quote}");
    Some(Dialect {
        delimiter,
        quote,
        doublequote: line.contains(&doubled),
        skipinitialspace: delims.iter().filter(|&&d| d == delimiter).count() == spaces,
    })
}

/// The most frequent item; of those as frequent, the first seen (Python's `max` over a
/// dict filled in order). Linear: a header may hold hundreds of thousands of quoted fields.
fn most_frequent(items: &[char]) -> Option<char> {
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for &c in items {
        *counts.entry(c).or_insert(0) += 1;
    }
    let most = counts.values().copied().max()?;
    items.iter().copied().find(|c| counts[c] == most)
}

/// `Sniffer._guess_delimiter` on one line: every ASCII character in it is as consistent as
/// any other, so the preferred list decides, else the most frequent character (ties: the
/// greatest).
fn guess_delimiter(line: &str) -> Option<char> {
    let present: Vec<char> = (0u8..128)
        .map(char::from)
        .filter(|c| line.contains(*c))
        .collect();
    match present.len() {
        0 => None,
        1 => Some(present[0]),
        _ => PREFERRED
            .into_iter()
            .find(|c| present.contains(c))
            .or_else(|| {
                present
                    .iter()
                    .copied()
                    .max_by_key(|&c| (line.matches(c).count(), c))
            }),
    }
}

/// Records as `csv.reader(text, dialect)` reads them (no strict mode, no escape character):
/// blank lines are records without fields; a quoted field may span lines. The text has
/// universal newlines already (no `\r`). Every field is charged to the object's tree budget
/// (a text of delimiters alone is a field per byte).
pub fn records(text: &str, d: Dialect) -> Result<Vec<Vec<String>>, ParseError> {
    let mut reader = Reader {
        d,
        state: State::StartRecord,
        out: Vec::new(),
        row: Vec::new(),
        field: String::new(),
    };
    let mut charged = 0;
    for (i, c) in text.char_indices() {
        reader.push(c);
        // A field costs its slot and its text: charged at each delimiter or line end (a
        // quoted delimiter is charged too, which only errs on the safe side).
        if c == d.delimiter || c == '\n' {
            TreeBudget::charge_event(i - charged + FIELD_BYTES).map_err(ParseError::invalid)?;
            charged = i;
        }
    }
    if reader.state != State::StartRecord {
        reader.end_record();
    }
    Ok(reader.out)
}

/// A field's slot in its row and its event, beyond its text.
const FIELD_BYTES: usize = 56;

/// The states of Python's `_csv.c` reader that a dialect without escape character reaches.
#[derive(PartialEq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    QuoteInQuoted,
}

struct Reader {
    d: Dialect,
    state: State,
    out: Vec<Vec<String>>,
    row: Vec<String>,
    field: String,
}

impl Reader {
    fn end_field(&mut self) {
        self.row.push(std::mem::take(&mut self.field));
    }

    fn end_record(&mut self) {
        self.end_field();
        self.out.push(std::mem::take(&mut self.row));
        self.state = State::StartRecord;
    }

    fn push(&mut self, c: char) {
        let newline = c == '\n' || c == '\r';
        let d = self.d;
        match self.state {
            State::StartRecord if newline => self.out.push(Vec::new()),
            State::StartRecord | State::StartField => {
                if newline {
                    self.end_record();
                } else if c == d.quote {
                    self.state = State::InQuoted;
                } else if c == ' ' && d.skipinitialspace {
                    self.state = State::StartField;
                } else if c == d.delimiter {
                    self.end_field();
                    self.state = State::StartField;
                } else {
                    self.field.push(c);
                    self.state = State::InField;
                }
            }
            State::InField if newline => self.end_record(),
            State::InField if c == d.delimiter => {
                self.end_field();
                self.state = State::StartField;
            }
            State::InField => self.field.push(c),
            State::InQuoted if c == d.quote => {
                self.state = match d.doublequote {
                    true => State::QuoteInQuoted,
                    false => State::InField,
                };
            }
            State::InQuoted => self.field.push(c),
            State::QuoteInQuoted if c == d.quote => {
                self.field.push(c);
                self.state = State::InQuoted;
            }
            State::QuoteInQuoted if c == d.delimiter => {
                self.end_field();
                self.state = State::StartField;
            }
            State::QuoteInQuoted if newline => self.end_record(),
            State::QuoteInQuoted => {
                self.field.push(c);
                self.state = State::InField;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(delimiter: char) -> Dialect {
        Dialect {
            delimiter,
            quote: '"',
            doublequote: false,
            skipinitialspace: false,
        }
    }

    #[test]
    fn sniffing_a_header_line() {
        assert_eq!(sniff("published,eventType,actor"), Some(plain(',')));
        assert_eq!(sniff("a;b;c"), Some(plain(';')));
        assert_eq!(sniff("a\tb c"), Some(plain('\t')));
        assert_eq!(sniff("event type: name"), Some(plain(' ')));
        assert_eq!(sniff("message").map(|d| d.delimiter), Some('s'));
        assert_eq!(sniff("aaaa").map(|d| d.delimiter), Some('a'));
        assert_eq!(sniff(""), None);
        let quoted = sniff(r#""name","role""#).unwrap();
        assert_eq!((quoted.delimiter, quoted.quote), (',', '"'));
        assert_eq!(sniff("a, b, c").map(|d| d.skipinitialspace), Some(true));
    }

    #[test]
    fn reading_with_the_sniffed_dialect() {
        let rows = records("h1,h2\n1,\"x, y\"\n\n2\n", plain(',')).unwrap();
        assert_eq!(
            rows,
            vec![vec!["h1", "h2"], vec!["1", "x, y"], vec![], vec!["2"]]
        );
        let no_double = records("\"a\"\"b\",c", plain(',')).unwrap();
        assert_eq!(no_double, vec![vec!["a\"b\"", "c"]]);
        let mut d = plain(',');
        d.doublequote = true;
        assert_eq!(records("\"a\"\"b\",c", d).unwrap(), vec![vec!["a\"b", "c"]]);
        assert_eq!(
            records("\"multi\nline\",z", d).unwrap(),
            vec![vec!["multi\nline", "z"]]
        );
    }

    #[test]
    fn sniffing_many_quoted_fields_is_linear() {
        let line: String = (0..200_000).map(|i| format!("\"f{i}\",")).collect();
        let started = std::time::Instant::now();
        let d = sniff(&line).unwrap();
        assert_eq!((d.delimiter, d.quote), (',', '"'));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Ties go to the first seen, as Python's max over a dict filled in order.
        assert_eq!(most_frequent(&['b', 'a', 'a', 'b']), Some('b'));
        assert_eq!(most_frequent(&[]), None);
    }

    #[test]
    fn a_text_of_delimiters_is_bounded() {
        let _object = TreeBudget::object();
        let text = ",".repeat(4 * 1024 * 1024);
        let err = records(&text, plain(',')).unwrap_err();
        assert!(err.to_string().contains("96 MiB"), "{err}");
    }
}
