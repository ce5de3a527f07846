//! Custom buckets: everything under a prefix, CloudWatch-Events-style objects or
//! space-separated VPC-style rows (see [`super::cloudwatch_events`]).

use super::cloudwatch_events::{events_or_rows, read_all};
use super::{Bucket, Emit, Format, ParseContext, ParseError, TypeInfo, BASE_INFO};
use crate::json::Value;
use crate::state::TableKind;

pub struct Custom;

pub const INFO: TypeInfo = TypeInfo {
    name: "custom",
    table: "custom",
    table_kind: TableKind::Global,
    same_prefix_date: Some(super::slash_date),
    ..BASE_INFO
};

impl Bucket for Custom {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }
}

impl Format for Custom {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        // Held whole: a Macie object may need its coordinates repaired before parsing.
        let text = read_all(input)?;
        // Every event of the object is held at once: their tree has one budget.
        let _budget = crate::limits::TreeBudget::object();
        for event in events_or_rows(&text)? {
            emit(event)?;
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![super::reshape_custom::reshape_custom(msg)]
    }
}
