//! A bucket run's checks: the bucket, the VPC flow logs, the listings the run would read with
//! their start markers, and the newest object read, decompressed and parsed (not sent).

use super::Report;
use crate::aws::{classify, AwsErrorKind, Clients};
use crate::bucket::{Bucket, ParseContext};
use crate::cli::Args;
use crate::pipeline::failure::ObjectFailure;
use crate::pipeline::format::FailureRules;
use crate::pipeline::window::ParseWindow;
use crate::pipeline::{self, Chunk, ObjectRef, RunContext};
use crate::source::listing::paginator::{PageRequest, Pages, S3Lister};
use crate::source::listing::{discover_accounts, discovery, geometry::Listing, plan};
use crate::state::{State, TableKind};
use crate::wazuh::Installation;
use std::sync::Arc;

/// Listings whose first page is looked at for the newest object.
const LISTINGS_SAMPLED: usize = 16;
/// Listings named on the listings line.
const LISTINGS_SHOWN: usize = 3;

pub async fn checks(
    args: &Args,
    name: &str,
    kind: Arc<dyn Bucket>,
    clients: &Clients,
    who: &str,
    report: &mut Report,
) {
    if !bucket(name, clients, who, report).await {
        for check in ["listings", "newest object"] {
            report.skipped(check, "needs the bucket");
        }
        return;
    }
    if kind.info().table_kind == TableKind::FlowLog {
        flow_logs(args, clients, report).await;
    }
    let Some((kind, planned, state)) = listings(args, name, kind, clients, who, report).await
    else {
        report.skipped("newest object", "needs the listings");
        return;
    };
    newest_object(name, kind, &planned, &state, clients, who, report).await;
}

async fn bucket(name: &str, clients: &Clients, who: &str, report: &mut Report) -> bool {
    let answer = clients.s3.get_bucket_location().bucket(name).send().await;
    let result = match answer {
        Ok(out) => {
            let region = out
                .location_constraint()
                .map(|c| c.as_str().to_string())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "us-east-1".into());
            Ok(format!("{name} is in {region}"))
        }
        Err(e) => {
            let e = classify("GetBucketLocation", &e);
            let fix = match &e.kind {
                AwsErrorKind::Service(code) if code == "NoSuchBucket" => format!(
                    "no bucket is named {name}: check --bucket (the trail's or the service's \
                     delivery settings name it)"
                ),
                AwsErrorKind::Service(code) if code == "AccessDenied" => format!(
                    "allow s3:GetBucketLocation and s3:ListBucket on arn:aws:s3:::{name} for \
                     {who}, in its IAM policy and in the bucket policy"
                ),
                AwsErrorKind::Unreachable => {
                    "S3 cannot be reached: check the network, the proxy and --service_endpoint"
                        .into()
                }
                _ => format!("check that {who} may read arn:aws:s3:::{name}"),
            };
            Err((e.text, fix))
        }
    };
    report.outcome("bucket", result)
}

async fn flow_logs(args: &Args, clients: &Clients, report: &mut Report) {
    let regions = match &args.regions {
        Some(list) => list.0.clone(),
        None => vec![clients.region()],
    };
    let mut found = Vec::new();
    for region in &regions {
        match clients.flow_log_ids(region).await {
            Ok(ids) => found.push(format!("{} in {region}", ids.len())),
            Err(e) => {
                report.failed(
                    "flow logs",
                    format!("{e:#}"),
                    "allow ec2:DescribeFlowLogs: the run asks each region for its flow logs",
                );
                return;
            }
        }
    }
    report.ok(
        "flow logs",
        format!("DescribeFlowLogs: {}", found.join(", ")),
    );
}

type Planned = Vec<(Listing, String)>;

/// What the run would list, and after which key, from the state file as it is (read-only).
async fn listings(
    args: &Args,
    name: &str,
    kind: Arc<dyn Bucket>,
    clients: &Clients,
    who: &str,
    report: &mut Report,
) -> Option<(Arc<dyn Bucket>, Planned, State)> {
    let fix = format!(
        "check --trail_prefix, --trail_suffix, --aws_organization_id, --aws_account_id, \
         --regions and --type against the bucket's keys, and that {who} has s3:ListBucket"
    );
    let planned = async {
        let (kind, opts) =
            crate::options::resolve_bucket(args, name.to_string(), kind, clients).await?;
        let install = Installation::locate(args.wazuh_root.clone());
        let info = kind.info();
        let state = State::open_read_only(&install.state_db(), info.table, info.table_kind)?;
        state.ensure_table()?;
        let lister = S3Lister {
            s3: clients.s3.clone(),
            bucket: name.to_string(),
        };
        let accounts = discover_accounts(&lister, &opts, kind.as_ref());
        discovery::check_bucket(&lister, &opts.geometry).await?;
        let planned = plan(&lister, clients, &opts, kind.as_ref(), &state, accounts).await?;
        anyhow::Ok((kind, planned, state))
    }
    .await;
    match planned {
        Ok((kind, planned, state)) if !planned.is_empty() => {
            let mut shown: Vec<String> = planned
                .iter()
                .take(LISTINGS_SHOWN)
                .map(|(l, marker)| format!("{} after {marker}", l.prefix))
                .collect();
            if planned.len() > LISTINGS_SHOWN {
                shown.push(format!("and {} more", planned.len() - LISTINGS_SHOWN));
            }
            report.ok(
                "listings",
                format!("{} to read: {}", planned.len(), shown.join("; ")),
            );
            Some((kind, planned, state))
        }
        Ok(_) => {
            report.failed("listings", "no account or region folder to read", fix);
            None
        }
        Err(e) => {
            report.failed("listings", format!("{e:#}"), fix);
            None
        }
    }
}

/// The newest object after the markers of the first listings that the run would read (else
/// the newest already recorded there), read as the run reads it.
async fn newest_object(
    name: &str,
    kind: Arc<dyn Bucket>,
    planned: &Planned,
    state: &State,
    clients: &Clients,
    who: &str,
    report: &mut Report,
) {
    const CHECK: &str = "newest object";
    let lister = S3Lister {
        s3: clients.s3.clone(),
        bucket: name.to_string(),
    };
    // (recorded, modified, key): the newest object not yet recorded wins over any recorded.
    type Rank = (bool, Option<chrono::DateTime<chrono::Utc>>, String);
    let mut newest: Option<(Rank, &Listing, crate::bucket::Listed)> = None;
    for (listing, marker) in planned.iter().take(LISTINGS_SAMPLED) {
        let request = PageRequest {
            prefix: listing.prefix.clone(),
            start_after: Some(marker.clone()),
            ..Default::default()
        };
        let page = match Pages::new(lister.clone(), request).next().await {
            Some(Ok(page)) => page,
            Some(Err(e)) => {
                let fix = format!("allow s3:ListBucket on arn:aws:s3:::{name} for {who}");
                report.failed(CHECK, e.text, fix);
                return;
            }
            None => continue,
        };
        for object in page.objects {
            let recorded = state
                .is_processed(&listing.state, &object.key)
                .unwrap_or(false);
            let rank = (!recorded, object.last_modified, object.key.clone());
            if newest.as_ref().is_none_or(|(best, ..)| rank > *best) {
                newest = Some((rank, listing, object));
            }
        }
    }
    let Some(((new, ..), listing, object)) = newest else {
        report.skipped(
            CHECK,
            "nothing after the start markers: no new object to read yet",
        );
        return;
    };
    let seen = if new { "new" } else { "already recorded" };
    let target = ObjectRef {
        bucket: name.to_string(),
        key: object.key.clone(),
        account_id: kind
            .info()
            .layout
            .is_aws_logs()
            .then(|| listing.state.account_id.clone()),
        expected_owner: None,
    };
    let run = Arc::new(RunContext {
        s3: clients.s3.clone(),
        format: kind.clone(),
        ctx: ParseContext {
            skip_on_error: false,
        },
        discard: None,
        account_alias: Some(String::new()),
        bytes_read: Default::default(),
        window: ParseWindow::for_this_machine(),
    });
    let mut job = pipeline::start(run.clone(), target.clone());
    let mut events = 0;
    let result = loop {
        match job.rx.recv().await {
            Some(Chunk::Messages {
                datagrams,
                discarded,
            }) => events += datagrams.len() as u64 + discarded,
            Some(Chunk::Done(result)) => break result,
            None => break Ok(()),
        }
    };
    let bytes = run.bytes_read.load(std::sync::atomic::Ordering::Relaxed);
    let key = &object.key;
    match result {
        Ok(()) => report.ok(
            CHECK,
            format!("{key} ({seen}): {bytes} bytes, {events} events parsed (nothing sent)"),
        ),
        Err(ObjectFailure::Fetch(text)) if text.contains("AccessDenied") => {
            let (found, fix) = denied(clients, name, key, &text, who).await;
            report.failed(CHECK, found, fix);
        }
        Err(failure) => {
            let text = match failure.action(key, FailureRules::Bucket, false) {
                pipeline::failure::Action::Stop(e) => format!("{e:#}"),
                pipeline::failure::Action::ErrorMsg(m) => m,
                pipeline::failure::Action::Leave { line, .. } => line,
            };
            report.failed(
                CHECK,
                text,
                "check that --type matches what the bucket holds; --skip_on_error lets a run \
                 go past objects it cannot read",
            );
        }
    }
}

/// An object S3 would not give: its KMS key, when it has one, is the usual reason.
async fn denied(
    clients: &Clients,
    bucket: &str,
    key: &str,
    text: &str,
    who: &str,
) -> (String, String) {
    // HeadObject needs no kms:Decrypt, so it names the key even when GetObject is refused.
    let head_key = clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()
        .and_then(|h| h.ssekms_key_id().map(str::to_string));
    let named = kms_key_in(text).or(head_key);
    if named.is_none() && !text.to_ascii_lowercase().contains("kms") {
        return (
            format!("{key}: {text}"),
            format!("allow s3:GetObject on arn:aws:s3:::{bucket}/* for {who}"),
        );
    }
    let arn = named.unwrap_or_else(|| "the object's KMS key".into());
    (
        format!("{key}: {text} (KMS AccessDenied: the object is encrypted with {arn})"),
        format!(
            "allow kms:Decrypt for {who} in the key policy of {arn} (and in its IAM policy; a \
             key of another account must name this account)"
        ),
    )
}

/// A KMS key ARN in an error message.
fn kms_key_in(text: &str) -> Option<String> {
    text.match_indices("arn:aws").find_map(|(start, _)| {
        let arn: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ',' | ')'))
            .collect();
        let arn = arn.trim_end_matches('.');
        arn.contains(":kms:").then(|| arn.to_string())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kms_key_arn_is_found_in_the_message() {
        let text = "An error occurred (AccessDenied) when calling the GetObject operation: User: \
                    arn:aws:iam::1:user/w is not authorized to perform: kms:Decrypt on resource: \
                    arn:aws:kms:us-east-1:1:key/abc-123 because no policy allows it.";
        assert_eq!(
            super::kms_key_in(text).as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/abc-123")
        );
        assert_eq!(super::kms_key_in("Access Denied"), None);
    }
}
