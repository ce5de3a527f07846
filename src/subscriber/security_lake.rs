//! `--subscriber security_lake`: Parquet objects (OCSF) that Amazon Security Lake writes. Each
//! row is sent as the reference's `json.dumps(row, default=str)` (kept 26): no envelope, nulls
//! kept, no discard filter; timestamps as Python's `str(datetime)`, dates `YYYY-MM-DD`, maps as
//! lists of `[key, value]`. Rows are read one row group at a time.

use crate::exit::code;
use crate::json::{Map, Value};
use crate::message::{DiscardFilter, Origin};
use crate::pipeline::format::{
    Emit, Event, FailureRules, Format, ParseContext, ParseError, SubscriberFailures,
};
use chrono::{DateTime, NaiveDate, Timelike};
use parquet::basic::{ConvertedType, LogicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;
use std::collections::HashSet;

pub struct SecurityLake;

impl Format for SecurityLake {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        // Parquet's footer is at the end: the object is held (compressed), rows are not. Its
        // schema is checked before the parquet crate builds a tree of it by recursion.
        let data = crate::bucket::text::read_whole(input)?;
        super::parquet_footer::check(&data)
            .map_err(|e| ParseError::invalid(format!("ArrowInvalid('{e}')")))?;
        let reader = SerializedFileReader::new(bytes::Bytes::from(data)).map_err(invalid)?;
        let mut naive = HashSet::new();
        let schema = reader.metadata().file_metadata().schema();
        for field in schema.get_fields() {
            naive_timestamps(field, field.name().to_string(), &mut naive);
        }
        for group in 0..reader.num_row_groups() {
            let group = reader.get_row_group(group).map_err(invalid)?;
            let rows = group.get_row_iter(None).map_err(invalid)?;
            for row in rows {
                let row = row.map_err(invalid)?;
                let mut event = Map::new();
                for (name, field) in row.get_column_iter() {
                    event.insert(name.into(), to_value(field, name, &naive));
                }
                emit(event)?;
            }
        }
        Ok(())
    }

    fn discards(&self, _filter: &DiscardFilter, _event: &Event) -> bool {
        false
    }

    fn envelope(&self, _origin: &Origin, event: Event) -> Value {
        Value::Object(event)
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![msg]
    }

    fn failure_rules(&self) -> FailureRules {
        FailureRules::Subscriber(SubscriberFailures {
            fetch_exit: code::SQS_ERROR,
            parse_exit: code::INVALID_TYPE,
            parse_text: None,
        })
    }
}

fn invalid(e: parquet::errors::ParquetError) -> ParseError {
    ParseError::invalid(format!("ArrowInvalid('{e}')"))
}

/// The dotted paths (through structs; list elements take their list's path, map keys and
/// values `.key`/`.value`) of timestamp columns without a time zone.
fn naive_timestamps(t: &Type, path: String, out: &mut HashSet<String>) {
    let info = t.get_basic_info();
    if !t.is_group() {
        if let Some(LogicalType::Timestamp(ts)) = info.logical_type_ref() {
            if !ts.is_adjusted_to_u_t_c {
                out.insert(path);
            }
        }
        return;
    }
    let fields = t.get_fields();
    let list = matches!(info.logical_type_ref(), Some(LogicalType::List))
        || info.converted_type() == ConvertedType::LIST;
    let map = matches!(info.logical_type_ref(), Some(LogicalType::Map))
        || matches!(
            info.converted_type(),
            ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE
        );
    match fields {
        [repeated] if list => {
            let element = match repeated.is_group() {
                true if repeated.get_fields().len() == 1 => &repeated.get_fields()[0],
                _ => repeated,
            };
            naive_timestamps(element, path, out);
        }
        [kv] if map && kv.is_group() => {
            for (part, t) in ["key", "value"].iter().zip(kv.get_fields()) {
                naive_timestamps(t, format!("{path}.{part}"), out);
            }
        }
        _ => {
            for f in fields {
                naive_timestamps(f, format!("{path}.{}", f.name()), out);
            }
        }
    }
}

/// A Parquet value as `json.dumps(..., default=str)` writes what pyarrow's `to_pylist` gives.
fn to_value(field: &Field, path: &str, naive: &HashSet<String>) -> Value {
    let timestamp = |micros: i64| Value::from(python_datetime(micros, !naive.contains(path)));
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(n) => (*n as i64).into(),
        Field::Short(n) => (*n as i64).into(),
        Field::Int(n) => (*n as i64).into(),
        Field::Long(n) => (*n).into(),
        Field::UByte(n) => (*n as u64).into(),
        Field::UShort(n) => (*n as u64).into(),
        Field::UInt(n) => (*n as u64).into(),
        Field::ULong(n) => (*n).into(),
        Field::Float16(f) => f64::from(f.to_f32()).into(),
        Field::Float(f) => f64::from(*f).into(),
        Field::Double(f) => (*f).into(),
        Field::Decimal(d) => Value::from(decimal_text(d.data(), d.scale())),
        Field::Str(s) => Value::from(s.as_str()),
        Field::Bytes(b) => Value::from(python_bytes(b.data())),
        Field::Date(days) => Value::from(
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|d| d.checked_add_signed(chrono::Duration::days((*days).into())))
                .map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string()),
        ),
        Field::TimeMillis(ms) => Value::from(python_time(i64::from(*ms) * 1000)),
        Field::TimeMicros(us) => Value::from(python_time(*us)),
        Field::TimestampMillis(ms) => timestamp(ms.saturating_mul(1000)),
        Field::TimestampMicros(us) => timestamp(*us),
        Field::Group(row) => Value::Object(
            row.get_column_iter()
                .map(|(name, f)| (name.into(), to_value(f, &format!("{path}.{name}"), naive)))
                .collect(),
        ),
        Field::ListInternal(list) => Value::Array(
            list.elements()
                .iter()
                .map(|e| to_value(e, path, naive))
                .collect(),
        ),
        Field::MapInternal(map) => Value::Array(
            map.entries()
                .iter()
                .map(|(k, v)| {
                    Value::Array(vec![
                        to_value(k, &format!("{path}.key"), naive),
                        to_value(v, &format!("{path}.value"), naive),
                    ])
                })
                .collect(),
        ),
    }
}

/// Python's `str(datetime)`: microseconds only when not zero, `+00:00` for UTC columns.
fn python_datetime(micros: i64, utc: bool) -> String {
    let Some(t) = DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = t.timestamp_subsec_micros();
    if fraction != 0 {
        s.push_str(&format!(".{fraction:06}"));
    }
    if utc {
        s.push_str("+00:00");
    }
    s
}

/// Python's `str(time)`.
fn python_time(micros: i64) -> String {
    let t = DateTime::from_timestamp_micros(micros).unwrap_or_default();
    let base = t.format("%H:%M:%S").to_string();
    match t.nanosecond() / 1000 {
        0 => base,
        us => format!("{base}.{us:06}"),
    }
}

/// A decimal's unscaled big-endian two's complement bytes, as Python's `str(Decimal)`.
fn decimal_text(bytes: &[u8], scale: i32) -> String {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut value: i128 = if negative { -1 } else { 0 };
    for &b in bytes.iter().take(16) {
        value = (value << 8) | i128::from(b);
    }
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let scale = scale.max(0) as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Python's `str(bytes)`: `b'...'` with escapes.
fn python_bytes(data: &[u8]) -> String {
    let mut s = String::from("b'");
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_renderings() {
        assert_eq!(
            python_datetime(1_718_007_123_217_000, true),
            "2024-06-10 08:12:03.217000+00:00"
        );
        assert_eq!(
            python_datetime(1_718_007_160_000_000, true),
            "2024-06-10 08:12:40+00:00"
        );
        assert_eq!(python_datetime(0, false), "1970-01-01 00:00:00");
        assert_eq!(decimal_text(&[0x30, 0x39], 2), "123.45");
        assert_eq!(decimal_text(&[0xff, 0xfb], 3), "-0.005");
        assert_eq!(python_bytes(b"a'\x00"), "b'a\\'\\x00'");
        assert_eq!(python_time(3_723_000_001), "01:02:03.000001");
    }
}
