//! The records list of a JSON document (`Records` of a CloudTrail file, `configurationItems`
//! of a Config file), emitted element by element. A document is parsed from memory when it
//! fits (fast) and from the stream otherwise, so memory stays bounded however large it is.

use super::text::read_error;
use super::{Emit, ParseError};
use crate::json::Value;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Documents up to this size are parsed from memory (fast); larger ones from the stream.
const IN_MEMORY_DOCUMENT: usize = 8 * 1024 * 1024;

/// Bytes of documents that all jobs together may hold in memory. A job that finds less left
/// parses its document from the stream instead (slower, same events): with many workers on
/// large trail files memory stays bounded, not workers x 8 MiB.
static DOCUMENT_MEMORY: MemoryBudget = MemoryBudget::new(128 * 1024 * 1024);

struct MemoryBudget {
    left: AtomicUsize,
}

impl MemoryBudget {
    const fn new(bytes: usize) -> Self {
        MemoryBudget {
            left: AtomicUsize::new(bytes),
        }
    }

    /// Up to `want` bytes (possibly none), given back when the reservation is dropped.
    fn reserve(&self, want: usize) -> Reservation<'_> {
        let mut reservation = Reservation {
            budget: self,
            bytes: 0,
        };
        reservation.grow(want);
        reservation
    }

    fn take(&self, want: usize) -> usize {
        let mut taken = 0;
        let _ = self
            .left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                taken = want.min(left);
                Some(left - taken)
            });
        taken
    }
}

struct Reservation<'a> {
    budget: &'a MemoryBudget,
    bytes: usize,
}

impl Reservation<'_> {
    /// Up to `want` more bytes; returns how many were granted.
    fn grow(&mut self, want: usize) -> usize {
        let granted = self.budget.take(want);
        self.bytes += granted;
        granted
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.left.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

/// The largest single record (or anything between two records) read from a stream; a larger
/// one fails its object instead of filling memory.
const MAX_RECORD_BYTES: u64 = 256 * 1024 * 1024;

/// Emit the objects of the list `field` of a JSON document one by one, each with `source`
/// set. A document without that field has no events (e.g. an empty trail file).
pub fn stream_records(
    input: &mut dyn BufRead,
    field: &str,
    source: &str,
    emit: &mut Emit,
) -> Result<(), ParseError> {
    stream_records_within(
        input,
        field,
        source,
        emit,
        &DOCUMENT_MEMORY,
        IN_MEMORY_DOCUMENT,
        MAX_RECORD_BYTES,
    )
}

/// The document's memory is reserved by this much at a time, so that small documents (most
/// trail files) take only what they use from the shared budget.
const HEAD_CHUNK: usize = 256 * 1024;

/// Read the start of the document, up to `max` bytes, reserving them from `budget` as they
/// come. True when the whole document was read (parse it from memory); false when it is larger
/// or the budget ran out (parse `head` then the rest of `input` as a stream).
fn read_head(
    input: &mut dyn BufRead,
    head: &mut Vec<u8>,
    memory: &mut Reservation,
    max: usize,
) -> Result<bool, ParseError> {
    loop {
        let want = max.saturating_sub(head.len()).min(HEAD_CHUNK);
        let granted = memory.grow(want);
        let n = input
            .take(granted as u64)
            .read_to_end(head)
            .map_err(read_error)?;
        if n < granted {
            return Ok(true);
        }
        if granted < want || want == 0 {
            return Ok(false);
        }
    }
}

/// A thread's document buffer is kept for its next document up to this capacity: most trail
/// files are smaller, and a fresh buffer per file was grown by copying and faulted in anew.
const KEEP_BUFFER: usize = 2 * 1024 * 1024;

thread_local! {
    static DOCUMENT_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// This thread's kept buffer, empty, given back when dropped.
struct DocumentBuffer(Vec<u8>);

impl DocumentBuffer {
    fn take() -> DocumentBuffer {
        let mut buffer = DOCUMENT_BUFFER.take();
        buffer.clear();
        DocumentBuffer(buffer)
    }
}

impl Drop for DocumentBuffer {
    fn drop(&mut self) {
        if self.0.capacity() <= KEEP_BUFFER {
            DOCUMENT_BUFFER.set(std::mem::take(&mut self.0));
        }
    }
}

impl std::ops::Deref for DocumentBuffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for DocumentBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Counts the bytes read since the last record was emitted and fails past the cap.
struct RecordCap<R> {
    inner: R,
    since_record: std::rc::Rc<std::cell::Cell<u64>>,
    cap: u64,
}

impl<R: Read> Read for RecordCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.since_record.get() + n as u64;
        self.since_record.set(total);
        if total > self.cap {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a record is larger than {} MiB", self.cap / (1024 * 1024)),
            ));
        }
        Ok(n)
    }
}

/// [`stream_records`] with a document of up to `max_in_memory` bytes (as far as `budget` has
/// room) parsed from memory and single records capped at `cap` bytes.
fn stream_records_within(
    input: &mut dyn BufRead,
    field: &str,
    source: &str,
    emit: &mut Emit,
    budget: &MemoryBudget,
    max_in_memory: usize,
    cap: u64,
) -> Result<(), ParseError> {
    let mut memory = budget.reserve(0);
    let mut head = DocumentBuffer::take();
    let whole = read_head(input, &mut head, &mut memory, max_in_memory)?;
    let mut stopped = None;
    let since_record = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let counter = since_record.clone();
    let mut counted_emit = |event| {
        counter.set(0);
        emit(event)
    };
    let seed = Document {
        field,
        source,
        emit: &mut counted_emit,
        stopped: &mut stopped,
    };
    let result = if whole {
        // One UTF-8 check of the whole document instead of one per string (the same events;
        // a document that is not UTF-8 gets serde_json's error for its first bad string).
        match std::str::from_utf8(&head) {
            Ok(text) => read_document(seed, serde_json::Deserializer::from_str(text)),
            Err(_) => read_document(seed, serde_json::Deserializer::from_slice(&head)),
        }
    } else {
        let capped = RecordCap {
            inner: head.chain(input),
            since_record,
            cap,
        };
        read_document(seed, serde_json::Deserializer::from_reader(capped))
    };
    if let Some(e) = stopped {
        return Err(e);
    }
    result.map_err(|e| match e.io_error_kind() {
        Some(std::io::ErrorKind::InvalidData) | None => ParseError::from(e),
        Some(_) => ParseError::Read(e.to_string()),
    })
}

/// The whole document, from whichever source, up to its end (trailing bytes are an error).
fn read_document<'de, R: serde_json::de::Read<'de>>(
    seed: Document,
    mut de: serde_json::Deserializer<R>,
) -> serde_json::Result<()> {
    seed.deserialize(&mut de).and_then(|_| de.end())
}

/// The top-level document: only `field` is read; everything else is skipped unparsed.
struct Document<'a, 'e> {
    field: &'a str,
    source: &'a str,
    emit: &'a mut Emit<'e>,
    stopped: &'a mut Option<ParseError>,
}

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.field {
                map.next_value_seed(Records {
                    source: self.source,
                    emit: &mut *self.emit,
                    stopped: &mut *self.stopped,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    // A document that is not an object has no events.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The event list, each element parsed and emitted on its own.
struct Records<'a, 'e> {
    source: &'a str,
    emit: &'a mut Emit<'e>,
    stopped: &'a mut Option<ParseError>,
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            let Value::Object(mut event) = record else {
                *self.stopped = Some(ParseError::invalid(format!(
                    "a record is not a JSON object but {}",
                    json_type(&record)
                )));
                return Err(de::Error::custom("stopped"));
            };
            event.insert("source".into(), self.source.into());
            if let Err(e) = (self.emit)(event) {
                *self.stopped = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_single_records_fail_their_object_without_filling_memory() {
        // Past the in-memory size, so the document is streamed and the cap applies.
        let small = format!("{{\"eventName\":\"{}\"}}", "x".repeat(1000));
        let records: Vec<String> = (0..900).map(|_| small.clone()).collect();
        let ok = format!("{{\"Records\":[{}]}}", records.join(","));
        let mut n = 0;
        let mut input = ok.as_bytes();
        stream_records_within(
            &mut input,
            "Records",
            "cloudtrail",
            &mut |_| {
                n += 1;
                Ok(())
            },
            &DOCUMENT_MEMORY,
            64 * 1024,
            64 * 1024,
        )
        .unwrap();
        assert_eq!(n, 900, "records under the cap stream through");
        let huge = format!(
            "{{\"Records\":[{{\"eventName\":\"{}\"}}]}}",
            "y".repeat(2 * 1024 * 1024)
        );
        let mut input = huge.as_bytes();
        let err = stream_records_within(
            &mut input,
            "Records",
            "cloudtrail",
            &mut |_| Ok(()),
            &DOCUMENT_MEMORY,
            64 * 1024,
            1024 * 1024,
        )
        .unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
    }

    #[test]
    fn a_document_parses_alike_from_memory_and_from_the_stream() {
        let doc = br#"{"Other": [1, {"x": 2}], "Records": [{"eventName": "a", "n": null},
            {"eventName": "b\u00e9", "resources": [{"ARN": "x"}]}], "Trailing": "t"}"#;
        let parse = |budget: &MemoryBudget, max: usize| {
            let mut events = Vec::new();
            let mut input: &[u8] = doc;
            stream_records_within(
                &mut input,
                "Records",
                "cloudtrail",
                &mut |e| {
                    events.push(Value::Object(e).to_string());
                    Ok(())
                },
                budget,
                max,
                MAX_RECORD_BYTES,
            )
            .unwrap();
            events
        };
        let from_memory = parse(&MemoryBudget::new(IN_MEMORY_DOCUMENT), IN_MEMORY_DOCUMENT);
        assert_eq!(from_memory.len(), 2);
        // No memory left (other workers hold it all), or less than the document: streamed.
        assert_eq!(
            parse(&MemoryBudget::new(0), IN_MEMORY_DOCUMENT),
            from_memory
        );
        assert_eq!(
            parse(&MemoryBudget::new(40), IN_MEMORY_DOCUMENT),
            from_memory
        );
        assert_eq!(parse(&MemoryBudget::new(1 << 20), 40), from_memory);
    }

    #[test]
    fn the_document_memory_budget_is_shared_and_given_back() {
        let budget = MemoryBudget::new(10);
        let mut a = budget.reserve(6);
        assert_eq!(a.grow(2), 2);
        let b = budget.reserve(8);
        assert_eq!((a.bytes, b.bytes), (8, 2));
        assert_eq!(budget.reserve(1).bytes, 0);
        drop(a);
        assert_eq!(budget.reserve(8).bytes, 8);
        // A small document takes only what it reads (in chunks), and gives it back.
        let budget = MemoryBudget::new(IN_MEMORY_DOCUMENT);
        let mut memory = budget.reserve(0);
        let mut head = Vec::new();
        let mut input: &[u8] = br#"{"Records": []}"#;
        assert!(read_head(&mut input, &mut head, &mut memory, IN_MEMORY_DOCUMENT).unwrap());
        assert_eq!(memory.bytes, HEAD_CHUNK);
        drop(memory);
        assert_eq!(budget.reserve(IN_MEMORY_DOCUMENT).bytes, IN_MEMORY_DOCUMENT);
    }
}
