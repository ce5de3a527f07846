//! Cisco Umbrella logs in an S3 bucket: CSV under `.../dnslogs/`, `.../proxylogs/` or
//! `.../iplogs/`, whose columns the prefix decides.

use super::text::{row_event, CsvReader, Extras};
use super::{Bucket, DateStyle, Emit, Format, ParseContext, ParseError, TypeInfo, BASE_INFO};
use crate::json::Value;
use crate::state::TableKind;

const DNS_FIELDS: &[&str] = &[
    "timestamp",
    "most_granular_identity",
    "identities",
    "internal_ip",
    "external_ip",
    "action",
    "query_type",
    "response_code",
    "domain",
    "categories",
    "most_granular_identity_type",
    "identity_types",
    "blocked_categories",
];
const PROXY_FIELDS: &[&str] = &[
    "timestamp",
    "identities",
    "internal_ip",
    "external_ip",
    "destination_ip",
    "content_type",
    "verdict",
    "url",
    "referer",
    "user_agent",
    "status_code",
    "requested_size",
    "response_size",
    "response_body_size",
    "sha",
    "categories",
    "av_detections",
    "puas",
    "amp_disposition",
    "amp_malware_name",
    "amp_score",
    "identity_type",
    "blocked_categories",
];
const IP_FIELDS: &[&str] = &[
    "timestamp",
    "identity",
    "source_ip",
    "source_port",
    "destination_ip",
    "destination_port",
    "categories",
];

pub const INFO: TypeInfo = TypeInfo {
    name: "cisco_umbrella",
    table: "cisco_umbrella",
    table_kind: TableKind::Global,
    date_style: DateStyle::Dashes,
    ..BASE_INFO
};

pub struct Umbrella {
    fields: Option<&'static [&'static str]>,
}

impl Umbrella {
    pub fn new(prefix: &str) -> Self {
        let fields = if prefix.contains("dnslogs") {
            Some(DNS_FIELDS)
        } else if prefix.contains("proxylogs") {
            Some(PROXY_FIELDS)
        } else if prefix.contains("iplogs") {
            Some(IP_FIELDS)
        } else {
            None
        };
        Umbrella { fields }
    }
}

impl Bucket for Umbrella {
    fn info(&self) -> &'static TypeInfo {
        &INFO
    }
}

impl Format for Umbrella {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let Some(fields) = self.fields else {
            return Err(ParseError::Unsupported(
                "Only 'dnslogs', 'proxylogs' or 'iplogs' are allowed for Cisco Umbrella".into(),
            ));
        };
        let mut rows = CsvReader::new(input, ',');
        while let Some(row) = rows.next_row()? {
            let mut e = row_event(fields, row, Extras::ExtraFields);
            e.insert("source".into(), "cisco_umbrella".into());
            emit(e)?;
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![super::reshape_custom::reshape_custom(msg)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    #[test]
    fn dns_rows_with_quoted_commas() {
        let u = Umbrella::new("1234567_abc/dnslogs/");
        let data = b"\"2024-08-20 10:20:01\",\"Office\",\"Office,Laptop\",\"10.0.0.1\",\"1.2.3.4\",\"Allowed\",\"1 (A)\",\"NOERROR\",\"example.com.\",\"Search\"\n";
        let e = u.parse("k", data, CTX).unwrap().remove(0);
        assert_eq!(e["identities"], "Office,Laptop");
        assert_eq!(e["categories"], "Search");
        assert!(e.get("identity_types").is_none());
        assert!(matches!(
            Umbrella::new("other/").parse("k", data, CTX),
            Err(ParseError::Unsupported(_))
        ));
    }
}
