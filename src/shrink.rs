//! Events too large for the queue, shrunk to fit (D14). analysisd reads a datagram into a
//! 65,536-byte buffer (`OS_RecvUnix`: `recvfrom` of at most 65,535 bytes), so a longer event
//! arrives cut, its JSON no longer parses, and every rule misses it; the reference only logs
//! "Event size exceeds the maximum allowed limit" and sends it anyway. Here such an event is
//! shrunk until it fits: the largest string values are cut to a prefix with a marker, then,
//! where that is not enough, the largest lists or objects (deepest first among equals)
//! become a marker; the fields the Wazuh ruleset reads are cut last, only when the rest was
//! not enough. The event names what was cut in [`CUT_FIELD`], beside `integration`/`aws`
//! (a name no AWS data has at that level).

use crate::json::{Map, Value};

/// The field that lists what was cut.
pub const CUT_FIELD: &str = "aws_s3_cut";
/// Bytes kept of a cut string.
const KEEP: usize = 256;
/// Paths listed in [`CUT_FIELD`] at most (then a count of the rest).
const MAX_LISTED: usize = 32;

/// Fields the amazon rules match on (wazuh v4.14.7 `ruleset/rules/0350-amazon_rules.xml`,
/// `0990-amazon-security-lake_rules.xml`, `0998-aws-security-hub-rules.xml`), those the issue
/// of each type names, and the envelope: a path here, its ancestors and (for the
/// subtrees) its descendants are cut only when nothing else is left.
const PROTECTED: &[&str] = &[
    "integration",
    "aws.log_info",
    "aws.source",
    "aws.aws_account_id",
    // CloudTrail
    "aws.eventSource",
    "aws.eventName",
    "aws.eventType",
    "aws.eventTime",
    "aws.eventID",
    "aws.errorCode",
    "aws.errorMessage",
    "aws.userIdentity",
    "aws.sourceIPAddress",
    "aws.source_ip_address",
    "aws.awsRegion",
    "aws.recipientAccountId",
    "aws.requestParameters.bucketName",
    "aws.responseElements.ConsoleLogin",
    // Config
    "aws.configurationItemStatus",
    "aws.resourceType",
    "aws.resourceId",
    "aws.resourceName",
    "aws.awsAccountId",
    "aws.configuration.complianceType",
    // GuardDuty, Macie, Inspector, load balancers, WAF, VPC, server access
    "aws.severity",
    "aws.title",
    "aws.type",
    "aws.service.action.actionType",
    "aws.action",
    "aws.status",
    "aws.operation",
    "aws.error_code",
    "aws.elb_status_code",
    "aws.http_status",
    "aws.requester",
    // Security Hub
    "aws.finding.ProductName",
    "aws.finding.RecordState",
    "aws.finding.Compliance.Status",
    "aws.finding.Compliance.SecurityControlId",
    "aws.finding.Severity",
    "aws.finding.Title",
    "aws.finding.Types",
    // Security Lake (OCSF rows, no envelope)
    "api.operation",
    "api.response.error",
    "src_endpoint.ip",
    "src_endpoint.port",
    "dst_endpoint.ip",
    "dst_endpoint.port",
    "identity.user.name",
    "metadata.product.name",
    "query.type",
    "rcode",
    "rcode_id",
    "category_uid",
    "category_name",
    "class_uid",
    "activity_id",
    "activity_name",
    "severity_id",
    "time",
];

/// Never cut: without them the event is no longer the same event.
const KEPT: &[&str] = &["", "integration", "aws", "aws.log_info"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Strings,
    Containers,
    ProtectedStrings,
    ProtectedContainers,
}

/// Whether a path is protected, holds a protected path, or lies inside a protected subtree.
fn protected(path: &str) -> bool {
    path.is_empty() || PROTECTED.iter().any(|p| related(path, p))
}

/// Equal, or one is the other's dotted prefix.
fn related(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short) && (long.len() == short.len() || long.as_bytes()[short.len()] == b'.')
}

fn child(path: &str, key: &str) -> String {
    match path {
        "" => key.to_string(),
        p => format!("{p}.{key}"),
    }
}

fn serialized_len(value: &Value) -> usize {
    let mut out = Vec::new();
    crate::json::write_value(&mut out, value);
    out.len()
}

/// The largest node a pass may cut: (size, depth, path of keys and indices, display path).
fn largest(value: &Value, pass: Pass) -> Option<(usize, Vec<Step>, String)> {
    let mut best: Option<(usize, usize, Vec<Step>, String)> = None;
    let mut steps = Vec::new();
    visit(value, "", &mut steps, pass, &mut best);
    best.map(|(size, _, steps, path)| (size, steps, path))
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Returns the node's serialized size.
fn visit(
    value: &Value,
    path: &str,
    steps: &mut Vec<Step>,
    pass: Pass,
    best: &mut Option<(usize, usize, Vec<Step>, String)>,
) -> usize {
    let size = match value {
        Value::Object(map) => {
            let mut size = 2;
            for (k, v) in map.iter() {
                steps.push(Step::Key(k.to_string()));
                size += k.len() + 3 + visit(v, &child(path, k), steps, pass, best) + 1;
                steps.pop();
            }
            size
        }
        Value::Array(items) => {
            let mut size = 2;
            for (i, v) in items.iter().enumerate() {
                steps.push(Step::Index(i));
                size += visit(v, &child(path, &i.to_string()), steps, pass, best) + 1;
                steps.pop();
            }
            size
        }
        other => serialized_len(other),
    };
    let shielded = protected(path);
    let eligible = match (value, pass) {
        (Value::String(s), Pass::Strings) => !shielded && s.len() > KEEP + 64,
        (Value::String(s), Pass::ProtectedStrings) => s.len() > KEEP + 64,
        (Value::Array(_) | Value::Object(_), Pass::Containers) => !shielded && size > 64,
        (Value::Array(_) | Value::Object(_), Pass::ProtectedContainers) => size > 64,
        _ => false,
    } && !KEPT.contains(&path);
    let depth = steps.len();
    if eligible
        && best
            .as_ref()
            .is_none_or(|(s, d, _, _)| size > *s || (size == *s && depth > *d))
    {
        *best = Some((size, depth, steps.clone(), path.to_string()));
    }
    size
}

fn node_mut<'a>(value: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    let mut node = value;
    for step in steps {
        node = match (step, node) {
            (Step::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The marker that replaces what was cut.
fn cut(node: &mut Value, size: usize) {
    *node = match node {
        Value::String(s) => {
            let mut end = KEEP.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Value::from(format!(
                "{}...[cut by aws-s3: {} bytes]",
                &s[..end],
                s.len()
            ))
        }
        Value::Array(items) => Value::from(format!(
            "[cut by aws-s3: a list of {} items, {size} bytes]",
            items.len()
        )),
        _ => Value::from(format!("[cut by aws-s3: an object of {size} bytes]")),
    };
}

fn with_cut_list(value: &Value, paths: &[String]) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    if paths.is_empty() {
        return value.clone();
    }
    let mut listed: Vec<Value> = paths
        .iter()
        .take(MAX_LISTED)
        .map(|p| Value::from(p.as_str()))
        .collect();
    if paths.len() > MAX_LISTED {
        listed.push(Value::from(format!(
            "and {} more",
            paths.len() - MAX_LISTED
        )));
    }
    let mut out: Map = map.clone();
    out.insert(CUT_FIELD.into(), Value::Array(listed));
    Value::Object(out)
}

/// The `DEBUG:` line (level 1) for an event shrunk to fit.
pub fn report(from: &str, cut: &[String]) {
    crate::debug!(
        1,
        "+++ An event of {from} was larger than the 65535 bytes analysisd reads; cut to fit: {}",
        match cut {
            [one] if one.is_empty() => "its text".to_string(),
            paths => paths.join(", "),
        }
    );
}

/// `value` cut until its JSON takes at most `limit` bytes, and the paths cut (none: it fit).
pub fn to_fit(value: &Value, limit: usize) -> (Value, Vec<String>) {
    let mut value = value.clone();
    let mut paths: Vec<String> = Vec::new();
    let fits = |v: &Value, paths: &[String]| serialized_len(&with_cut_list(v, paths)) <= limit;
    'passes: for pass in [
        Pass::Strings,
        Pass::Containers,
        Pass::ProtectedStrings,
        Pass::ProtectedContainers,
    ] {
        while !fits(&value, &paths) {
            let Some((size, steps, path)) = largest(&value, pass) else {
                continue 'passes;
            };
            if let Some(node) = node_mut(&mut value, &steps) {
                cut(node, size);
            }
            paths.push(path);
        }
        break;
    }
    if !fits(&value, &paths) {
        // Only the envelope is left, and it is still too large (a key near S3's limit with
        // an alias of the same size): keep what identifies the object.
        let mut bare = Map::new();
        if let Value::Object(map) = &value {
            for key in ["integration"] {
                if let Some(v) = map.get(key) {
                    bare.insert(key.into(), v.clone());
                }
            }
        }
        value = Value::Object(bare);
        paths.push("aws".into());
    }
    (with_cut_list(&value, &paths), paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn size(v: &Value) -> usize {
        serialized_len(v)
    }

    #[test]
    fn a_small_event_is_left_alone() {
        let v = json!({"integration": "aws", "aws": {"eventName": "x"}});
        let (out, cut) = to_fit(&v, 65_000);
        assert!(cut.is_empty());
        assert!(out.get(CUT_FIELD).is_none());
    }

    #[test]
    fn the_largest_unprotected_strings_go_first() {
        let policy = "p".repeat(200_000);
        let v = json!({"integration": "aws", "aws": {
            "eventName": "PutBucketPolicy", "eventSource": "s3.amazonaws.com",
            "userIdentity": {"type": "IAMUser", "userName": "alice"},
            "requestParameters": {"policy": policy, "bucketName": "b"},
            "log_info": {"log_file": "k", "s3bucket": "b"}}});
        let (out, cut) = to_fit(&v, 65_535 - 12);
        assert!(size(&out) <= 65_535 - 12);
        assert_eq!(cut, ["aws.requestParameters.policy"]);
        let aws = out.get("aws").unwrap();
        assert_eq!(
            aws.get("eventName").unwrap().as_str(),
            Some("PutBucketPolicy")
        );
        assert_eq!(
            aws.get("userIdentity")
                .unwrap()
                .get("userName")
                .unwrap()
                .as_str(),
            Some("alice")
        );
        let kept = aws
            .get("requestParameters")
            .unwrap()
            .get("policy")
            .unwrap()
            .as_str()
            .unwrap();
        assert!(kept.starts_with("ppp") && kept.ends_with("[cut by aws-s3: 200000 bytes]"));
        assert!(matches!(out.get(CUT_FIELD), Some(Value::Array(a)) if a.len() == 1));
    }

    #[test]
    fn lists_of_small_values_are_cut_as_a_whole() {
        let rules: Vec<Value> = (0..20_000)
            .map(|i| json!({"port": i, "cidr": "10.0.0.0/8"}))
            .collect();
        let v = json!({"integration": "aws", "aws": {"resourceType": "AWS::EC2::SecurityGroup",
            "configuration": {"ipPermissions": rules}, "log_info": {"log_file": "k"}}});
        let (out, cut) = to_fit(&v, 65_523);
        assert!(size(&out) <= 65_523);
        assert_eq!(cut, ["aws.configuration.ipPermissions"]);
        assert_eq!(
            out.get("aws")
                .unwrap()
                .get("resourceType")
                .unwrap()
                .as_str(),
            Some("AWS::EC2::SecurityGroup")
        );
    }

    #[test]
    fn protected_fields_are_cut_when_nothing_else_is_left() {
        let huge = "e".repeat(100_000);
        let v = json!({"integration": "aws", "aws": {"eventName": huge, "errorMessage": huge,
            "log_info": {"log_file": "k", "s3bucket": "b"}}});
        let (out, cut) = to_fit(&v, 65_523);
        assert!(size(&out) <= 65_523);
        assert!(cut.contains(&"aws.eventName".to_string()), "{cut:?}");
        assert_eq!(
            out.get("aws")
                .unwrap()
                .get("log_info")
                .unwrap()
                .get("log_file")
                .unwrap()
                .as_str(),
            Some("k")
        );
    }

    #[test]
    fn one_huge_string_event_fits_exactly() {
        let v = json!({"integration": "aws", "aws": {"data": "x".repeat(1_000_000)}});
        for limit in [65_523, 1000, 300] {
            let (out, cut) = to_fit(&v, limit);
            assert!(size(&out) <= limit, "{limit}: {}", size(&out));
            assert!(!cut.is_empty());
        }
    }
}
