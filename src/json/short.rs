//! The strings of the event tree. Most keys and many values of a log record are a few bytes
//! long ("eventName", "us-east-1", "AwsApiCall"); kept inline they cost no allocation, which
//! was the largest single part of building an event.

use serde::de::{Deserialize, Deserializer, Visitor};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes kept inline; with the length and the variant tag the type is as large as a `String`.
const INLINE: usize = 22;

/// An immutable UTF-8 string: inline up to 22 bytes, one exact allocation beyond.
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    // Invariant: `bytes[..len]` is UTF-8 (copied from a `&str` whole).
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Str {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                // SAFETY: the only constructor of `Inline` copies a whole `&str` (see `From<&str>`).
                unsafe { std::str::from_utf8_unchecked(&bytes[..*len as usize]) }
            }
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Str(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            Str(Repr::Heap(s.into()))
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        if s.len() <= INLINE {
            Str::from(s.as_str())
        } else {
            Str(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Str {
        Str::from(s.as_str())
    }
}

impl From<Str> for String {
    fn from(s: Str) -> String {
        match s.0 {
            Repr::Heap(h) => h.into_string(),
            Repr::Inline { .. } => s.as_str().to_owned(),
        }
    }
}

impl Default for Str {
    fn default() -> Str {
        Str::from("")
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl Hash for Str {
    // As `str`, so that lookups by `&str` through `Borrow` find it.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self)
    }
}

struct StrVisitor;

impl Visitor<'_> for StrVisitor {
    type Value = Str;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, s: &str) -> Result<Str, E> {
        Ok(Str::from(s))
    }
    fn visit_string<E>(self, s: String) -> Result<Str, E> {
        Ok(Str::from(s))
    }
}

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Str, D::Error> {
        d.deserialize_str(StrVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_strings_read_back_the_same() {
        for s in [
            "",
            "é",
            "eventName",
            "exactly-22-bytes-long!",
            "23-bytes-long, not more",
            "ü".repeat(40).as_str(),
        ] {
            let a = Str::from(s);
            assert_eq!(a.as_str(), s);
            assert_eq!(Str::from(s.to_string()), a);
            assert_eq!(String::from(a.clone()), s);
            assert_eq!(format!("{a:?}"), format!("{s:?}"));
        }
        assert!(matches!(
            Str::from("exactly-22-bytes-long!").0,
            Repr::Inline { .. }
        ));
        assert!(matches!(
            Str::from("23-bytes-long, not more").0,
            Repr::Heap(_)
        ));
        assert_eq!(std::mem::size_of::<Str>(), std::mem::size_of::<String>());
    }

    #[test]
    fn hashes_as_str_so_maps_find_it_by_str() {
        let mut m = std::collections::HashMap::new();
        m.insert(Str::from("key"), 1);
        assert_eq!(m.get("key"), Some(&1));
    }
}
