//! The checks every mode shares on the AWS side: the credentials, the role, the clock.

use super::Report;
use crate::aws::identity::{Identity, ServerDate};
use crate::aws::{self, AwsErrorKind, Clients};
use crate::cli::Args;
use std::time::SystemTime;

/// Beyond this, signatures start to fail (AWS allows 15 minutes; we warn well before).
const CLOCK_TOLERANCE_SECS: i64 = 300;

fn expiry_text(expires: Option<SystemTime>) -> String {
    match expires {
        Some(t) => {
            let t: chrono::DateTime<chrono::Utc> = t.into();
            format!(", expires {}", t.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        None => String::new(),
    }
}

fn source_text(source: &str) -> String {
    let gloss = match source {
        "ProfileFile" => " (~/.aws/credentials or ~/.aws/config)",
        "Environment" => " (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
        "IMDSv2" | "IMDS" => " (the EC2 instance's role)",
        "EcsContainer" => " (the ECS task's role)",
        "WebIdentityToken" => " (a web identity token)",
        "command-line" => " (--access_key and --secret_key, deprecated)",
        _ => "",
    };
    format!("{source}{gloss}")
}

/// The fix for an STS answer that refused the credentials.
fn credentials_fix(kind: &AwsErrorKind, text: &str) -> String {
    if text.contains("ExpiredToken") {
        return "the session credentials expired: refresh them, or use a profile or an \
                instance role that renews itself"
            .into();
    }
    match kind {
        AwsErrorKind::Unreachable => "STS cannot be reached: check the network, the proxy \
                                      settings and AWS_ENDPOINT_URL"
            .into(),
        AwsErrorKind::ClockSkew => "set this machine's clock right (see the clock line)".into(),
        _ => "the access key is wrong, inactive or deleted: create a new one in IAM, or use \
              another --aws_profile"
            .into(),
    }
}

/// The credentials and, with `--iam_role_arn`, the role: the clients a run would use, or
/// `None` when either failed; with the ARN the checks run as.
pub async fn credentials(
    args: &Args,
    date: &ServerDate,
    report: &mut Report,
) -> Option<(Clients, String)> {
    let mut base_options = crate::options::aws_options(args);
    base_options.iam_role_arn = None;
    let base = match aws::build_clients(&base_options).await {
        Ok(c) => c,
        Err(e) => {
            report.failed(
                "credentials",
                format!("{e:#}"),
                "give the wodle credentials: a profile in ~/.aws/credentials of the user it \
                 runs as (root under wazuh-modulesd) with --aws_profile, an instance or task \
                 role, or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment",
            );
            return None;
        }
    };
    let me = match base.identity(false, date).await {
        Ok(me) => me,
        Err(e) => {
            let fix = credentials_fix(&e.kind, &e.text);
            report.failed("credentials", e.text, fix);
            return None;
        }
    };
    report.ok(
        "credentials",
        format!(
            "{} (account {}) from {}{}",
            me.arn,
            me.account,
            source_text(&me.source),
            expiry_text(me.expires)
        ),
    );
    let Some(role) = &args.iam_role_arn else {
        return Some((base, me.arn));
    };
    match aws::build_clients(&crate::options::aws_options(args)).await {
        Ok(clients) => match clients.identity(true, date).await {
            Ok(assumed) => {
                report.ok("role", role_found(role, &assumed));
                Some((clients, assumed.arn))
            }
            Err(e) => {
                report.failed("role", e.text, role_fix(args, &me));
                None
            }
        },
        Err(e) => {
            report.failed(
                "role",
                format!("cannot assume {role}: {e:#}"),
                role_fix(args, &me),
            );
            None
        }
    }
}

fn role_found(role: &str, assumed: &Identity) -> String {
    format!(
        "assumed {role} as {}{}",
        assumed.arn,
        expiry_text(assumed.expires)
    )
}

fn role_fix(args: &Args, me: &Identity) -> String {
    let mut fix = format!(
        "the role's trust policy must allow sts:AssumeRole for {}, and that identity needs \
         sts:AssumeRole on the role",
        me.arn
    );
    if args.external_id.is_some() {
        fix.push_str("; the trust policy's sts:ExternalId condition must equal --external_id");
    }
    if args.iam_role_duration.is_some() {
        fix.push_str("; --iam_role_duration must not exceed the role's maximum session duration");
    }
    if args.sts_endpoint.is_some() {
        fix.push_str("; --sts_endpoint must be an STS endpoint this machine reaches");
    }
    fix
}

/// This machine's clock against the `Date` of an AWS answer.
pub fn clock(date: &ServerDate, report: &mut Report) {
    let Some(header) = date.get() else {
        report.skipped("clock", "no AWS answer to compare with");
        return;
    };
    let Ok(server) = chrono::DateTime::parse_from_rfc2822(&header) else {
        report.skipped("clock", format!("AWS sent an unreadable Date: {header}"));
        return;
    };
    let skew = (chrono::Utc::now() - server.with_timezone(&chrono::Utc)).num_seconds();
    let side = if skew > 0 { "ahead of" } else { "behind" };
    if skew.abs() > CLOCK_TOLERANCE_SECS {
        report.failed(
            "clock",
            format!(
                "this machine is {} s {side} AWS (Date: {header})",
                skew.abs()
            ),
            "synchronise the clock (timedatectl set-ntp true, or chrony): AWS refuses \
             requests signed more than 15 minutes off (exit 19)",
        );
    } else {
        report.ok("clock", format!("within {} s of AWS", skew.abs().max(1)));
    }
}
