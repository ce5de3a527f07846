//! A service run's checks: the log groups of CloudWatch Logs, or Inspector's findings, in
//! each region the run would read.

use super::Report;
use crate::aws::{classify, AwsErrorKind, Clients};
use crate::cli::Args;
use crate::service::Service;

pub async fn checks(args: &Args, service: Service, clients: &Clients, report: &mut Report) {
    let regions = crate::service::regions(
        service,
        args.regions.as_ref().map(|l| l.0.as_slice()),
        crate::aws::config_region(args.aws_profile.as_deref()),
    );
    match service {
        Service::CloudWatchLogs => log_groups(args, &regions, clients, report).await,
        Service::Inspector => inspector(&regions, clients, report).await,
    }
}

async fn log_groups(args: &Args, regions: &[String], clients: &Clients, report: &mut Report) {
    let groups: Vec<&str> = args
        .aws_log_groups
        .split(',')
        .filter(|g| !g.is_empty())
        .collect();
    if groups.is_empty() {
        report.failed(
            "log groups",
            "no --aws_log_groups given: the run would read nothing",
            "give the log groups to read with --aws_log_groups (comma list)",
        );
        return;
    }
    for region in regions {
        let logs = clients.logs(region);
        for group in &groups {
            let name = format!("log group {group} in {region}");
            let answer = logs
                .describe_log_streams()
                .log_group_name(*group)
                .limit(50)
                .send()
                .await;
            let result = match answer {
                Ok(out) => {
                    let more = if out.next_token().is_some() {
                        " or more"
                    } else {
                        ""
                    };
                    Ok(format!("{}{more} streams", out.log_streams().len()))
                }
                Err(e) => {
                    let e = classify("DescribeLogStreams", &e);
                    let fix = match &e.kind {
                        AwsErrorKind::Service(c) if c == "ResourceNotFoundException" => format!(
                            "no such log group in {region}: check --aws_log_groups and --regions"
                        ),
                        _ => "allow logs:DescribeLogStreams and logs:GetLogEvents on the group"
                            .into(),
                    };
                    Err((e.text, fix))
                }
            };
            report.outcome(&name, result);
        }
    }
}

async fn inspector(regions: &[String], clients: &Clients, report: &mut Report) {
    for region in regions {
        let answer = clients
            .inspector(region)
            .list_findings()
            .max_results(1)
            .send()
            .await;
        let result = match answer {
            Ok(out) => Ok(format!(
                "ListFindings answers ({} finding on the first page)",
                out.findings().len()
            )),
            Err(e) => Err((
                classify("ListFindings", &e).text,
                format!(
                    "allow inspector2:ListFindings, and activate Inspector in {region} (or \
                     leave the region out with --regions)"
                ),
            )),
        };
        report.outcome(&format!("inspector in {region}"), result);
    }
}
