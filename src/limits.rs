//! What one object may cost, whoever wrote it: objects and SQS messages come from writers we
//! do not fully trust (other accounts, custom sources), and a Wazuh manager shares its memory
//! with analysisd. An object over a limit fails as a bad object does (its exit code, or an
//! `error_msg` with `--skip_on_error`), with the limit named in the message.
//!
//! - [`MAX_WHOLE_OBJECT`] (`bucket::text::read_whole`): formats that need a whole object (Parquet's footer is at its end, custom
//!   objects may need repairing, the buckets subscriber's text rules look at the whole text)
//!   read at most [`MAX_WHOLE_OBJECT`] decompressed bytes.
//! - [`TreeBudget`]: the event tree one JSON value builds (a record, a line, one of
//!   concatenated values) is bounded by what it builds, not by the bytes it came from: a
//!   short array of zeros is 2 bytes a value in the text and 32 in the tree.

use std::cell::Cell;

/// Decompressed bytes of an object read whole.
pub const MAX_WHOLE_OBJECT: usize = 64 * 1024 * 1024;
/// Bytes of event tree one JSON value may build.
pub const MAX_VALUE_TREE: usize = 64 * 1024 * 1024;
/// Bytes of event tree all the values of an object read whole may build together.
pub const MAX_OBJECT_TREE: usize = 96 * 1024 * 1024;

pub const MIB: usize = 1024 * 1024;

/// What is left of this thread's budgets, charged as the event tree is built.
#[derive(Clone, Copy)]
struct Budget {
    /// Nesting of the value being built: a value at depth 0 starts a new value budget.
    depth: u32,
    value_left: usize,
    /// The budget of an object read whole, when one is armed.
    object_left: Option<usize>,
}

thread_local! {
    static BUDGET: Cell<Budget> = const {
        Cell::new(Budget { depth: 0, value_left: MAX_VALUE_TREE, object_left: None })
    };
}

/// The tree budgets of JSON values being built on this thread.
pub struct TreeBudget;

/// While alive, every value built on this thread is also charged to one object budget of
/// [`MAX_OBJECT_TREE`] bytes (for formats that hold all of an object's events at once).
pub struct ObjectBudget {
    before: Option<usize>,
}

impl Drop for ObjectBudget {
    fn drop(&mut self) {
        BUDGET.with(|b| {
            let mut budget = b.get();
            budget.object_left = self.before;
            b.set(budget);
        });
    }
}

/// A value being built, from its start to its end (see [`TreeBudget::enter`]).
pub struct Building;

impl Drop for Building {
    fn drop(&mut self) {
        BUDGET.with(|b| {
            let mut budget = b.get();
            budget.depth = budget.depth.saturating_sub(1);
            b.set(budget);
        });
    }
}

impl TreeBudget {
    /// Arm an object budget until the guard is dropped.
    pub fn object() -> ObjectBudget {
        BUDGET.with(|b| {
            let mut budget = b.get();
            let before = budget.object_left.replace(MAX_OBJECT_TREE);
            b.set(budget);
            ObjectBudget { before }
        })
    }

    /// A value starts: at the top level, with a fresh value budget.
    pub fn enter() -> Building {
        BUDGET.with(|b| {
            let mut budget = b.get();
            if budget.depth == 0 {
                budget.value_left = MAX_VALUE_TREE;
            }
            budget.depth += 1;
            b.set(budget);
        });
        Building
    }

    /// Charge `bytes` of tree; an error names the limit that was passed. A string outside
    /// any list or object (depth 0) is a whole value of its own, within the limit.
    pub fn charge<E: serde::de::Error>(bytes: usize) -> Result<(), E> {
        Self::charge_bytes(bytes).map_err(E::custom)
    }

    /// [`TreeBudget::charge`] for events built from text (rows, lines) rather than JSON;
    /// the error names the limit.
    pub fn charge_event(bytes: usize) -> Result<(), String> {
        Self::charge_bytes(bytes)
    }

    fn charge_bytes(bytes: usize) -> Result<(), String> {
        BUDGET.with(|b| {
            let mut budget = b.get();
            if budget.depth == 0 {
                budget.value_left = MAX_VALUE_TREE;
            }
            let Some(value_left) = budget.value_left.checked_sub(bytes) else {
                return Err(format!(
                    "a JSON value builds more than {} MiB of events, the limit for one value",
                    MAX_VALUE_TREE / MIB
                ));
            };
            budget.value_left = value_left;
            if let Some(left) = budget.object_left {
                let Some(left) = left.checked_sub(bytes) else {
                    return Err(format!(
                        "the object builds more than {} MiB of events, the limit for objects \
                         read whole",
                        MAX_OBJECT_TREE / MIB
                    ));
                };
                budget.object_left = Some(left);
            }
            b.set(budget);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::text::read_whole;
    use crate::json::Value;
    use std::io::Read;

    #[test]
    fn a_value_is_bounded_by_the_tree_it_builds() {
        // 2 bytes of text per value, 32 bytes of tree: 3 million zeros pass 64 MiB.
        let zeros = format!("[{}0]", "0,".repeat(3_000_000));
        let err = serde_json::from_str::<Value>(&zeros).unwrap_err();
        assert!(err.to_string().contains("64 MiB"), "{err}");
        // Each top-level value has its own budget.
        let small = format!("[{}0]", "0,".repeat(100_000));
        for _ in 0..30 {
            serde_json::from_str::<Value>(&small).unwrap();
        }
    }

    #[test]
    fn an_object_budget_adds_up_its_values() {
        let small = format!("[{}0]", "0,".repeat(1_000_000));
        let _object = TreeBudget::object();
        let parsed = (0..10)
            .map(|_| serde_json::from_str::<Value>(&small))
            .collect::<Vec<_>>();
        assert!(parsed[0].is_ok());
        let err = parsed
            .iter()
            .find_map(|p| p.as_ref().err())
            .expect("over 96 MiB");
        assert!(err.to_string().contains("96 MiB"), "{err}");
    }

    #[test]
    fn a_whole_read_stops_at_the_limit() {
        let mut big = std::io::repeat(b' ').take(MAX_WHOLE_OBJECT as u64 + 10);
        let mut input = std::io::BufReader::new(&mut big);
        let err = read_whole(&mut input).unwrap_err();
        assert!(err.to_string().contains("64 MiB"), "{err}");
    }
}
