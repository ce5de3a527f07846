//! The event tree: every event is parsed into it, reshaped and serialized once. Values here;
//! objects (`Map`, key order in a vector) in `map.rs`, strings in `short.rs`, the JSON text in
//! `write.rs`. Parsing goes through serde (`Deserialize`), with serde_json's semantics.

mod map;
mod short;
mod write;

pub use map::Map;
pub use short::Str;
pub use write::write_value;

use crate::limits::TreeBudget;
use map::MapBuilder;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Str),
    Array(Vec<Value>),
    Object(Map),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut().and_then(|m| m.get_mut(key))
    }

    /// A JSON pointer (`/a/0/b`), as serde_json's.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        pointer_tokens(pointer)?.try_fold(self, |v, token| match v {
            Value::Object(m) => m.get(&token),
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
    }

    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        pointer_tokens(pointer)?.try_fold(self, |v, token| match v {
            Value::Object(m) => m.get_mut(&token),
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        })
    }

    /// Take the value out, leaving null.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

impl fmt::Display for Value {
    /// Compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut text = Vec::new();
        write_value(&mut text, self);
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

/// The unescaped tokens of a JSON pointer; none for "" (the whole value).
fn pointer_tokens(pointer: &str) -> Option<impl Iterator<Item = String> + '_> {
    let rest = match pointer {
        "" => None,
        p => Some(p.strip_prefix('/')?),
    };
    Some(
        rest.into_iter()
            .flat_map(|r| r.split('/'))
            .map(|t| t.replace("~1", "/").replace("~0", "~")),
    )
}

/// What indexing by a missing key or position gives.
pub(crate) static NULL: Value = Value::Null;

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The field, or null (as serde_json's).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n.into())
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<f64> for Value {
    /// A finite number; NaN and infinities have no JSON form and become null (as serde_json).
    fn from(n: f64) -> Value {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}

struct ValueVisitor;

/// What the tree costs per element of a list, per key of an object (the value and the key's
/// slot), and for a string beyond what a value holds inline.
const VALUE_BYTES: usize = std::mem::size_of::<Value>();
const ENTRY_BYTES: usize = std::mem::size_of::<Value>() + std::mem::size_of::<Str>();
const INLINE_STRING: usize = 22;

fn charge_string<E: serde::de::Error>(len: usize) -> Result<(), E> {
    match len > INLINE_STRING {
        true => TreeBudget::charge(len),
        false => Ok(()),
    }
}

/// Tree bytes of one list or object, charged to the budget a few KiB at a time (the budget
/// is thread-local; charging every element would cost more than building it).
#[derive(Default)]
struct Charge(usize);

impl Charge {
    fn add<E: serde::de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        self.0 += bytes;
        if self.0 >= 64 * 1024 {
            return self.settle();
        }
        Ok(())
    }

    fn settle<E: serde::de::Error>(&mut self) -> Result<(), E> {
        TreeBudget::charge(std::mem::take(&mut self.0))
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
        charge_string(s.len())?;
        Ok(Value::String(s.into()))
    }
    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Value, E> {
        charge_string(s.len())?;
        Ok(Value::String(s.into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let _building = TreeBudget::enter();
        let mut charge = Charge::default();
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
            charge.add(VALUE_BYTES)?;
        }
        charge.settle()?;
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let _building = TreeBudget::enter();
        let mut charge = Charge::default();
        let mut map = MapBuilder::with_capacity(access.size_hint().unwrap_or(8).min(4096));
        while let Some(key) = access.next_key::<Str>()? {
            let value = access.next_value()?;
            charge.add(ENTRY_BYTES + key.len())?;
            map.push(key, value);
        }
        charge.settle()?;
        Ok(Value::Object(map.finish()))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Test helpers: `json!` literals and comparisons with serde_json values and literals.
#[cfg(test)]
mod test_support {
    use super::{Map, Value};
    use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

    /// serde_json's own serialization of our tree: the oracle `write.rs` is tested against.
    impl Serialize for Value {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Value::Null => s.serialize_unit(),
                Value::Bool(b) => s.serialize_bool(*b),
                Value::Number(n) => n.serialize(s),
                Value::String(v) => s.serialize_str(v),
                Value::Array(items) => {
                    let mut seq = s.serialize_seq(Some(items.len()))?;
                    for item in items {
                        seq.serialize_element(item)?;
                    }
                    seq.end()
                }
                Value::Object(map) => map.serialize(s),
            }
        }
    }

    impl Serialize for Map {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut out = s.serialize_map(Some(self.len()))?;
            for (k, v) in self.iter() {
                out.serialize_entry(k, v)?;
            }
            out.end()
        }
    }

    /// serde_json's `json!`, as a [`Value`] of ours.
    #[macro_export]
    macro_rules! json {
        ($($t:tt)+) => {
            $crate::json::Value::from(::serde_json::json!($($t)+))
        };
    }

    impl From<serde_json::Value> for Value {
        fn from(v: serde_json::Value) -> Value {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => Value::Number(n),
                serde_json::Value::String(s) => Value::String(s.into()),
                serde_json::Value::Array(a) => {
                    Value::Array(a.into_iter().map(Value::from).collect())
                }
                serde_json::Value::Object(m) => Value::Object(
                    m.into_iter()
                        .map(|(k, v)| (k.into(), Value::from(v)))
                        .collect(),
                ),
            }
        }
    }

    impl PartialEq<serde_json::Value> for Value {
        fn eq(&self, other: &serde_json::Value) -> bool {
            use serde_json::Value as J;
            match (self, other) {
                (Value::Null, J::Null) => true,
                (Value::Bool(a), J::Bool(b)) => a == b,
                (Value::Number(a), J::Number(b)) => a == b,
                (Value::String(a), J::String(b)) => a.as_str() == b,
                (Value::Array(a), J::Array(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
                }
                (Value::Object(a), J::Object(b)) => {
                    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
                }
                _ => false,
            }
        }
    }

    impl PartialEq<i32> for Value {
        fn eq(&self, other: &i32) -> bool {
            matches!(self, Value::Number(n) if n.as_i64() == Some(i64::from(*other)))
        }
    }

    impl PartialEq<&str> for Value {
        fn eq(&self, other: &&str) -> bool {
            self.as_str() == Some(*other)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn round_trips_in_order_as_serde_json_does() {
        let text =
            r#"{"b":1,"a":[true,null,{"z":"é\n","y":-2.5}],"c":{},"d":18446744073709551615}"#;
        assert_eq!(serde_json::to_string(&parse(text)).unwrap(), text);
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(parse(text), theirs);
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        let v = parse(r#"{"a":1,"b":2,"a":3}"#);
        assert_eq!(v.to_string(), r#"{"a":3,"b":2}"#);
        // Keys that look alike (same length, first and last byte) are told apart...
        let v = parse(r#"{"eventTime":1,"eventName":2,"eventTime":3,"eventName":4,"x":5}"#);
        assert_eq!(v.to_string(), r#"{"eventTime":3,"eventName":4,"x":5}"#);
        // ...and repeats are found in objects past the indexed size too.
        let many: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let v = parse(&format!(
            r#"{{{},"k3":"again","k39":"last"}}"#,
            many.join(",")
        ));
        assert_eq!(v.as_object().unwrap().len(), 40);
        assert_eq!(v["k3"], Value::from("again"));
        assert_eq!(v["k39"], Value::from("last"));
        assert_eq!(v.as_object().unwrap().keys().nth(3), Some("k3"));
    }

    #[test]
    fn removing_and_inserting_first_keep_the_order_of_the_rest() {
        let mut m = parse(r#"{"a":1,"b":2,"c":3,"d":4}"#)
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(m.remove("b"), Some(Value::from(2u64)));
        m.insert_first("c".into(), "first".into());
        m.insert("e".into(), Value::Null);
        m.retain(|_, v| !v.is_null());
        assert_eq!(Value::Object(m).to_string(), r#"{"c":"first","a":1,"d":4}"#);
    }

    #[test]
    fn pointer_and_index_as_serde_json() {
        let v = parse(r#"{"a":{"b/c":[10,{"d":"x"}]}}"#);
        assert_eq!(v.pointer("/a/b~1c/1/d"), Some(&Value::from("x")));
        assert_eq!(v.pointer("/a/missing"), None);
        assert_eq!(v.pointer(""), Some(&v));
        assert_eq!(v.pointer("a"), None);
        assert_eq!(v["a"]["b/c"][0], serde_json::json!(10));
        assert!(v["nothing"]["deeper"].is_null());
    }
}
