//! Elastic Load Balancing access logs: `AWSLogs/ACCOUNT/elasticloadbalancing/REGION/` with
//! space-separated, partly quoted fields. ALB, CLB and NLB differ only in their columns and
//! in how `ip:port` fields are split.

use super::text::{row_event, CsvReader, Extras};
use super::{
    Bucket, Emit, Event, Format, Layout, MarkerRule, ParseContext, ParseError, TypeInfo, BASE_INFO,
};
use crate::json::Value;
use crate::state::TableKind;

const ALB_FIELDS: &[&str] = &[
    "type",
    "time",
    "elb",
    "client_port",
    "target_port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "action_executed",
    "redirect_url",
    "error_reason",
    "target_port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
];

const CLB_FIELDS: &[&str] = &[
    "time",
    "elb",
    "client_port",
    "backend_port",
    "request_processing_time",
    "backend_processing_time",
    "response_processing_time",
    "elb_status_code",
    "backend_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
];

const NLB_FIELDS: &[&str] = &[
    "type",
    "version",
    "time",
    "elb",
    "listener",
    "client_port",
    "destination_port",
    "connection_time",
    "tls_handshake_time",
    "received_bytes",
    "sent_bytes",
    "incoming_tls_alert",
    "chosen_cert_arn",
    "chosen_cert_serial",
    "tls_cipher",
    "tls_protocol_version",
    "tls_named_group",
    "domain_name",
    "alpn_fe_protocol",
    "alpn_be_protocol",
    "alpn_client_preference_list",
    "tls_connection_creation_time",
];

/// Load-balancer logs sit under `AWSLogs/ACCOUNT/elasticloadbalancing/REGION/`, whatever kind
/// wrote them (kept quirk 16), and can arrive late (D11).
const fn info(name: &'static str) -> TypeInfo {
    TypeInfo {
        name,
        table: name,
        table_kind: TableKind::Global,
        layout: Layout::ServiceFolders {
            service: "elasticloadbalancing",
            organization_id: false,
        },
        marker: MarkerRule::RewindOneDay,
        ..BASE_INFO
    }
}

pub const ALB: TypeInfo = info("alb");
pub const CLB: TypeInfo = info("clb");
pub const NLB: TypeInfo = info("nlb");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Alb,
    Clb,
    Nlb,
}

pub struct LoadBalancer {
    kind: Kind,
}

impl LoadBalancer {
    pub fn alb() -> Self {
        LoadBalancer { kind: Kind::Alb }
    }
    pub fn clb() -> Self {
        LoadBalancer { kind: Kind::Clb }
    }
    pub fn nlb() -> Self {
        LoadBalancer { kind: Kind::Nlb }
    }

    fn fields(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Alb => ALB_FIELDS,
            Kind::Clb => CLB_FIELDS,
            Kind::Nlb => NLB_FIELDS,
        }
    }
}

impl Bucket for LoadBalancer {
    fn info(&self) -> &'static TypeInfo {
        match self.kind {
            Kind::Alb => &ALB,
            Kind::Clb => &CLB,
            Kind::Nlb => &NLB,
        }
    }
}

impl Format for LoadBalancer {
    fn parse_stream(
        &self,
        _key: &str,
        input: &mut dyn std::io::BufRead,
        _ctx: ParseContext,
        emit: &mut Emit,
    ) -> Result<(), ParseError> {
        let mut rows = CsvReader::new(input, ' ');
        while let Some(row) = rows.next_row()? {
            emit({
                let mut e = row_event(self.fields(), row, Extras::ExtraFields);
                e.insert("source".into(), self.info().name.into());
                match self.kind {
                    Kind::Alb => {
                        for (port, ip) in [
                            ("client_port", "client_ip"),
                            ("target_port", "target_ip"),
                            ("target_port_list", "target_ip_list"),
                        ] {
                            split_alb(&mut e, port, ip);
                        }
                    }
                    Kind::Nlb => split_nlb(&mut e),
                    Kind::Clb => {}
                }
                e
            })?;
        }
        Ok(())
    }

    fn reshape(&self, msg: Value) -> Vec<Value> {
        vec![super::reshape_custom::reshape_custom(msg)]
    }
}

/// `ip:port [ip:port ...]` into the ip field and the port field (space-joined); a value
/// without `:` (such as `-`) is left as it is.
fn split_alb(e: &mut Event, port_field: &str, ip_field: &str) {
    let Some(Value::String(value)) = e.get(port_field) else {
        return;
    };
    let (mut ips, mut ports) = (Vec::new(), Vec::new());
    for item in value.split_whitespace() {
        let parts: Vec<&str> = item.split(':').collect();
        if parts.len() < 2 {
            crate::debug!(
                1,
                "Unable to process correctly ABL log entry, for field {port_field}."
            );
            return;
        }
        ips.push(parts[0].to_string());
        ports.push(parts[1].to_string());
    }
    e.insert(port_field.into(), Value::from(ports.join(" ")));
    e.insert(ip_field.into(), Value::from(ips.join(" ")));
}

/// `ip:port` of client and destination; when one cannot be split the ip fields take the
/// port fields' current values, as the reference does.
fn split_nlb(e: &mut Event) {
    let split = |e: &Event, f: &str| -> Option<(String, String)> {
        let Some(Value::String(v)) = e.get(f) else {
            return None;
        };
        let parts: Vec<&str> = v.split(':').collect();
        (parts.len() == 2).then(|| (parts[0].to_string(), parts[1].to_string()))
    };
    let mut ok = false;
    if let Some((ip, port)) = split(e, "client_port") {
        e.insert("client_ip".into(), ip.into());
        e.insert("client_port".into(), port.into());
        if let Some((ip, port)) = split(e, "destination_port") {
            e.insert("destination_ip".into(), ip.into());
            e.insert("destination_port".into(), port.into());
            ok = true;
        }
    }
    if !ok {
        for (ip, port) in [
            ("client_ip", "client_port"),
            ("destination_ip", "destination_port"),
        ] {
            if let Some(v) = e.get(port).cloned() {
                e.insert(ip.into(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::ParseAll;
    use crate::json;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    #[test]
    fn alb_splits_ip_and_port_and_names_conn_trace_id() {
        let line = "h2 2024-05-10T23:39:43.945958Z app/my-lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET https://x:443/ HTTP/2.0\" \"curl/7.46.0\" ECDHE TLSv1.2 arn:tg \"Root=1-58337262\" \"x.com\" \"arn:cert\" 0 2024-05-10T23:39:43.945958Z \"forward\" \"-\" \"-\" \"10.0.0.1:80 10.0.0.2:80\" \"200 200\" \"-\" \"-\" TID_1 extra\n";
        let e = LoadBalancer::alb()
            .parse("k", line.as_bytes(), CTX)
            .unwrap()
            .remove(0);
        assert_eq!(e["client_ip"], "192.168.131.39");
        assert_eq!(e["client_port"], "2817");
        assert_eq!(e["target_ip_list"], "10.0.0.1 10.0.0.2");
        assert_eq!(e["target_port_list"], "80 80");
        assert_eq!(e["conn_trace_id"], "TID_1");
        assert_eq!(e["extra_fields"], json!(["extra"]));
        assert_eq!(e["request"], "GET https://x:443/ HTTP/2.0");
        let dash = "http 2024-05-10T23:39:43Z app/lb/1 1.2.3.4:5 - -1 -1 -1 502 - 0 0 \"GET / HTTP/1.1\" \"-\" - - - \"-\" \"-\" \"-\" 0 t \"-\" \"-\" \"-\" \"-\" \"-\" \"-\" \"-\"\n";
        let e = LoadBalancer::alb()
            .parse("k", dash.as_bytes(), CTX)
            .unwrap()
            .remove(0);
        assert_eq!(e["target_port"], "-");
        assert!(e.get("target_ip").is_none());
    }

    #[test]
    fn nlb_fields() {
        let line = "tls 2.0 2024-06-01T00:10:00 net/my-nlb/c6e7 listener/1 10.0.0.5:5000 10.0.1.5:443 5 2 98 246 - arn:cert serial ECDHE TLSv12 - x.com h2 h2 \"h2\" 2024-06-01T00:09:58\n";
        let e = LoadBalancer::nlb()
            .parse("k", line.as_bytes(), CTX)
            .unwrap()
            .remove(0);
        assert_eq!(e["client_ip"], "10.0.0.5");
        assert_eq!(e["destination_port"], "443");
        assert_eq!(e["alpn_be_protocol"], "h2");
        assert_eq!(e["tls_connection_creation_time"], "2024-06-01T00:09:58");
        let bad = "tls 2.0 t net/x listener/1 10.0.0.5:5000 - 5\n";
        let e = LoadBalancer::nlb()
            .parse("k", bad.as_bytes(), CTX)
            .unwrap()
            .remove(0);
        assert_eq!(e["client_ip"], "5000");
        assert_eq!(e["destination_ip"], "-");
    }
}
