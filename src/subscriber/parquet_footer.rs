//! A Parquet object's schema checked before the parquet crate sees it. The crate turns the
//! footer's flat schema list into a tree by recursion, so a schema nesting thousands of groups
//! overflows the stack (a crash, not an error). The footer is read here without recursion:
//! `[metadata][4-byte little-endian length]PAR1`, the metadata a Thrift compact `FileMetaData`
//! whose field 2 is the list of `SchemaElement`s in pre-order, each with its `num_children`
//! (field 5) (parquet-format's `parquet.thrift`).

/// Deepest schema accepted: OCSF, what Security Lake writes, nests about ten levels.
pub const MAX_DEPTH: usize = 64;
/// Most schema elements accepted.
pub const MAX_ELEMENTS: usize = 100_000;
/// Thrift structs nested inside one schema element (a logical type holds one or two).
const MAX_STRUCT_NESTING: usize = 16;

/// Why a footer is refused.
pub fn check(data: &[u8]) -> Result<(), String> {
    let n = data.len();
    if n < 12 || &data[n - 4..] != b"PAR1" {
        return Err("not a Parquet file (no PAR1 footer)".into());
    }
    let len = u32::from_le_bytes(data[n - 8..n - 4].try_into().expect("4 bytes")) as usize;
    if len > n - 8 {
        return Err("a Parquet footer longer than the file".into());
    }
    let mut r = Compact {
        data: &data[n - 8 - len..n - 8],
        at: 0,
    };
    let children = r.schema_children()?;
    let depth = schema_depth(&children)?;
    if depth > MAX_DEPTH {
        return Err(format!(
            "a Parquet schema {depth} levels deep (the limit is {MAX_DEPTH})"
        ));
    }
    Ok(())
}

/// The depth of the tree that pre-order `num_children` describe (0 for a leaf).
fn schema_depth(children: &[usize]) -> Result<usize, String> {
    // Children still expected at each open level.
    let mut open: Vec<usize> = Vec::new();
    let mut deepest = 0;
    for &n in children {
        if let Some(left) = open.last_mut() {
            *left -= 1;
        }
        if n > 0 {
            open.push(n);
            deepest = deepest.max(open.len());
            if deepest > MAX_DEPTH {
                return Ok(deepest);
            }
        }
        while open.last() == Some(&0) {
            open.pop();
        }
    }
    Ok(deepest)
}

struct Compact<'a> {
    data: &'a [u8],
    at: usize,
}

const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.data.get(self.at).ok_or("a Parquet footer cut short")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a Parquet footer with a varint over 64 bits".into())
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        if self.data.len() - self.at < n {
            return Err("a Parquet footer cut short".into());
        }
        self.at += n;
        Ok(())
    }

    /// A field header: (field id, type), or None at the struct's end.
    fn field(&mut self, last: &mut i16) -> Result<Option<u8>, String> {
        let b = self.byte()?;
        if b == STOP {
            return Ok(None);
        }
        let delta = (b >> 4) as i16;
        *last = match delta {
            0 => self.zigzag()? as i16,
            d => last.wrapping_add(d),
        };
        Ok(Some(b & 0x0f))
    }

    /// A list header: (size, element type).
    fn list(&mut self) -> Result<(usize, u8), String> {
        let b = self.byte()?;
        let size = match b >> 4 {
            15 => self.varint()? as usize,
            n => n as usize,
        };
        Ok((size, b & 0x0f))
    }

    /// Every element of a container takes at least one byte: a size beyond what is left is
    /// a lie (and would loop without reading).
    fn check_size(&self, size: usize) -> Result<(), String> {
        match size <= self.data.len() - self.at {
            true => Ok(()),
            false => Err("a Parquet footer with a container larger than itself".into()),
        }
    }

    /// A container's element: booleans take a byte there (in a struct the type says it).
    fn skip_element(&mut self, kind: u8, nesting: usize) -> Result<(), String> {
        match kind {
            TRUE | FALSE => self.skip(1),
            kind => self.skip_value(kind, nesting),
        }
    }

    /// Skip one value of `kind`; structs, lists and maps no deeper than `nesting` allows.
    fn skip_value(&mut self, kind: u8, nesting: usize) -> Result<(), String> {
        match kind {
            TRUE | FALSE => Ok(()),
            BYTE => self.skip(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip(8),
            BINARY => {
                let n = self.varint()? as usize;
                self.skip(n)
            }
            LIST | SET | MAP | STRUCT if nesting == 0 => {
                Err("a Parquet footer nested too deep".into())
            }
            LIST | SET => {
                let (size, element) = self.list()?;
                self.check_size(size)?;
                for _ in 0..size {
                    self.skip_element(element, nesting - 1)?;
                }
                Ok(())
            }
            MAP => {
                let size = self.varint()? as usize;
                if size == 0 {
                    return Ok(());
                }
                self.check_size(size)?;
                let kinds = self.byte()?;
                for _ in 0..size {
                    self.skip_element(kinds >> 4, nesting - 1)?;
                    self.skip_element(kinds & 0x0f, nesting - 1)?;
                }
                Ok(())
            }
            STRUCT => {
                let mut last = 0;
                while let Some(kind) = self.field(&mut last)? {
                    self.skip_value(kind, nesting - 1)?;
                }
                Ok(())
            }
            other => Err(format!("a Parquet footer with Thrift type {other}")),
        }
    }

    /// `num_children` of every element of `FileMetaData.schema`, in order.
    fn schema_children(&mut self) -> Result<Vec<usize>, String> {
        let mut last = 0;
        while let Some(kind) = self.field(&mut last)? {
            if last != 2 || kind != LIST {
                self.skip_value(kind, MAX_STRUCT_NESTING)?;
                continue;
            }
            let (size, element) = self.list()?;
            self.check_size(size)?;
            if element != STRUCT {
                return Err("a Parquet schema that is not a list of elements".into());
            }
            if size > MAX_ELEMENTS {
                return Err(format!(
                    "a Parquet schema of {size} elements (the limit is {MAX_ELEMENTS})"
                ));
            }
            let mut children = Vec::with_capacity(size);
            for _ in 0..size {
                children.push(self.element_children()?);
            }
            return Ok(children);
        }
        Err("a Parquet footer without a schema".into())
    }

    fn element_children(&mut self) -> Result<usize, String> {
        let mut last = 0;
        let mut children = 0;
        while let Some(kind) = self.field(&mut last)? {
            match (last, kind) {
                (5, I32) => children = self.zigzag()?.clamp(0, MAX_ELEMENTS as i64) as usize,
                _ => self.skip_value(kind, MAX_STRUCT_NESTING)?,
            }
        }
        Ok(children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A footer whose schema is `children` (pre-order num_children), framed as a file.
    fn file(children: &[usize]) -> Vec<u8> {
        let mut meta = vec![0x15, 0x02]; // field 1 (version), i32 1
        meta.push(0x19); // field 2 (schema), list
        match children.len() {
            n if n < 15 => meta.push(((n as u8) << 4) | STRUCT),
            n => {
                meta.push(0xf0 | STRUCT);
                let mut v = n as u64;
                while v >= 0x80 {
                    meta.push((v as u8) | 0x80);
                    v >>= 7;
                }
                meta.push(v as u8);
            }
        }
        for &c in children {
            meta.extend([0x48, 0x01, b'x']); // field 4 (name), binary "x"
            if c > 0 {
                meta.push(0x15); // field 5 (num_children), i32
                let mut v = (c as u64) << 1;
                while v >= 0x80 {
                    meta.push((v as u8) | 0x80);
                    v >>= 7;
                }
                meta.push(v as u8);
            }
            meta.push(STOP);
        }
        meta.extend([0x16, 0x00, STOP]); // field 3 (num_rows) 0, end
        let mut data = b"PAR1".to_vec();
        data.extend(&meta);
        data.extend((meta.len() as u32).to_le_bytes());
        data.extend(b"PAR1");
        data
    }

    #[test]
    fn depth_of_flat_and_nested_schemas() {
        assert_eq!(schema_depth(&[2, 0, 0]), Ok(1));
        assert_eq!(schema_depth(&[2, 1, 0, 0]), Ok(2));
        assert_eq!(schema_depth(&[1, 1, 1, 0]), Ok(3));
        assert!(check(&file(&[3, 0, 2, 0, 0, 0])).is_ok());
        let mut deep = vec![1; 20_000];
        deep.push(0);
        let err = check(&file(&deep)).unwrap_err();
        assert!(err.contains("levels deep"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        assert!(check(b"PAR1").is_err());
        assert!(check(b"not parquet at all").is_err());
        let mut cut = file(&[2, 0, 0]);
        let n = cut.len();
        cut[n - 8..n - 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(check(&cut).is_err());
        // A struct nested deeper than any schema element holds.
        let mut meta = vec![0x1c; 100];
        meta.extend(vec![0; 100]);
        let mut data = meta.clone();
        data.extend((meta.len() as u32).to_le_bytes());
        data.extend(b"PAR1");
        assert!(check(&data).unwrap_err().contains("too deep"));
    }

    #[test]
    fn a_container_larger_than_the_footer_is_refused_at_once() {
        // Found by the fuzzer: a map of billions of booleans in 9 bytes looped for ever.
        let found = [0x8b, 0xab, 0x8b, 0x8b, 0x8b, 0xcc, 0x51, 0x11, 0xff];
        let mut data = b"PAR1".to_vec();
        data.extend(found);
        data.extend((found.len() as u32).to_le_bytes());
        data.extend(b"PAR1");
        let started = std::time::Instant::now();
        assert!(check(&data).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn the_recorded_security_lake_object_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance/cases/sqs-security-lake-parquet/bucket/aws/CLOUD_TRAIL_MGMT/2.0/",
            "region=us-east-1/accountId=123456789012/eventDay=20240610/",
            "3f0b7c1e9a2d4e6f8b5c7a9d1e3f5b7c.gz.parquet"
        );
        check(&std::fs::read(path).unwrap()).unwrap();
    }
}
