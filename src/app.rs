//! One run, from parsed arguments to the driver, in the reference's order of checks (which
//! decides what exists on disk when a run fails early).

use crate::aws::{self, AwsOptions};
use crate::bucket::{self, driver::Driver, driver::RunOptions, Layout};
use crate::cli::Args;
use crate::debug;
use crate::exit::{code, fail, Failure};
use crate::message::DiscardFilter;
use crate::queue::{Output, Queue};
use crate::state::State;
use crate::wazuh::Installation;
use anyhow::Result;

/// One run; `argv` is the command line as given, for a hand-over to the Python wodle.
pub async fn run(args: Args, argv: &[String]) -> Result<()> {
    args.post_validate()?;
    if args.service.is_some() || args.subscriber.is_some() {
        return hand_over_to_python(&args, argv);
    }
    let bucket_name = args.bucket.clone().expect("clap requires a source");
    let Some(mut bucket) = bucket::for_type(&args.bucket_type, &args.trail_prefix) else {
        return Err(fail(code::INVALID_TYPE, "Invalid type of bucket"));
    };
    for region in args.regions.iter().flat_map(|l| l.0.iter()) {
        if !crate::regions::is_known(region) {
            debug!(1, "+++ ERROR: Invalid region '{region}'");
            return Err(Failure::silent(code::INVALID_REGION).into());
        }
    }

    let install = Installation::locate(args.wazuh_root.clone());
    let version = install.version()?;
    let clients = aws::build_clients(&AwsOptions {
        profile: args.aws_profile.clone(),
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        iam_role_arn: args.iam_role_arn.clone(),
        iam_role_duration: args.iam_role_duration,
        external_id: args.external_id.clone(),
        sts_endpoint: args.sts_endpoint.clone(),
        service_endpoint: args.service_endpoint.clone(),
    })
    .await?;
    let discard = match &args.discard_field {
        Some(field) => {
            // The reference compiles the literal "None" when no regex is given.
            let pattern = args.discard_regex.as_deref().unwrap_or("None");
            Some(std::sync::Arc::new(
                DiscardFilter::new(field, pattern).map_err(|e| {
                    fail(
                        code::INVALID_TYPE,
                        format!("Invalid --discard-regex '{pattern}': {e}"),
                    )
                })?,
            ))
        }
        None => None,
    };
    let (table, kind) = bucket.table();
    let dry_run = args.output.is_some() && !args.update_state;
    // A manual backfill overlapping wazuh-modulesd's scheduled run of the same bucket and
    // type would send objects twice: the second run waits for the first to end.
    let _lock = if dry_run {
        None
    } else {
        Some(lock_run(
            &install.run_lock(&bucket_name, bucket.type_name()),
        )?)
    };
    let state = if dry_run {
        State::open_read_only(&install.state_db(), table, kind)?
    } else {
        State::open(&install.state_db(), &version, table, kind)?
    };
    let queue = match &args.output {
        Some(path) => Output::to_path(path)?,
        None => Output::Socket(Queue::new(
            &args
                .queue_socket
                .clone()
                .unwrap_or_else(|| install.queue_socket()),
        )),
    };
    if bucket.type_name() == "guardduty" {
        let native = guardduty_is_native(&clients.s3, &bucket_name, &args.trail_prefix).await?;
        bucket = std::sync::Arc::new(bucket::guardduty::GuardDuty { native });
    }
    let caller_account = match bucket.layout() {
        Layout::Custom => Some(clients.caller_account().await?),
        Layout::AwsLogs { .. } => None,
    };
    let driver = Driver {
        opts: RunOptions {
            bucket: bucket_name,
            prefix: args.trail_prefix.clone(),
            suffix: args.trail_suffix.clone(),
            organization_id: args.aws_organization_id.clone(),
            account_alias: args.aws_account_alias.clone(),
            only_logs_after: args.only_logs_after,
            today: chrono::Utc::now().date_naive(),
            accounts: args.aws_account_id.clone().map(|l| l.0),
            regions: args.regions.clone().map(|l| l.0),
            reparse: args.reparse,
            skip_on_error: args.skip_on_error,
            remove: args.remove,
            discard,
            caller_account,
        },
        bucket: bucket.clone(),
        clients: &clients,
        workers: args.workers(),
        state,
        queue,
        summary: Default::default(),
        progress: Default::default(),
    };
    let started = std::time::Instant::now();
    let (summary, result) = driver.run().await;
    crate::log::info(&summary.line(started.elapsed().as_secs_f64()));
    result
}

/// wazuh-modulesd runs this same program for `--service` and `--subscriber` modules, which
/// are not built in yet: run the Python wodle when it is still installed beside us, with the
/// arguments as given, so that its output and exit code are the run's.
fn hand_over_to_python(args: &Args, argv: &[String]) -> Result<()> {
    let install = Installation::locate(args.wazuh_root.clone());
    let python = install.root.join("framework/python/bin/python3");
    let script = install.root.join("wodles/aws/aws_s3.py");
    let what = if args.service.is_some() {
        "--service"
    } else {
        "--subscriber"
    };
    for needed in [&python, &script] {
        if !needed.exists() {
            return Err(fail(
                code::UNKNOWN,
                format!(
                    "{what} runs are not built into this aws-s3 binary yet and need the Python AWS \
                     wodle, but {} is missing. Reinstall the Wazuh AWS wodle next to this binary \
                     (keep aws_s3.py) or remove the {what} module from ossec.conf.",
                    needed.display()
                ),
            ));
        }
    }
    debug!(1, "+++ Handing the {what} run over to {}", script.display());
    let status = std::process::Command::new(&python)
        .arg(&script)
        .args(argv.iter().skip(1))
        .status()
        .map_err(|e| {
            fail(
                code::UNKNOWN,
                format!("Cannot run {}: {e}", python.display()),
            )
        })?;
    match status.code() {
        Some(0) => Ok(()),
        Some(c) => Err(crate::exit::Failure::silent(c).into()),
        None => Err(fail(
            code::UNKNOWN,
            "the Python wodle was killed by a signal",
        )),
    }
}

/// Native GuardDuty exports live under `PREFIX/AWSLogs/`; anything else is the deprecated
/// Kinesis Firehose layout.
async fn guardduty_is_native(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<bool> {
    let resp = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("{prefix}AWSLogs"))
        .delimiter("/")
        .max_keys(1)
        .send()
        .await
        .map_err(|e| aws::s3_unexpected(aws::classify("ListObjectsV2", &e).text))?;
    Ok(!resp.common_prefixes().is_empty())
}

/// Hold the run lock, waiting (with a line saying so) while another run has it.
fn lock_run(path: &std::path::Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| {
            fail(
                code::SQLITE_CREATE,
                format!("Cannot create the run lock {}: {e}", path.display()),
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            crate::log::info(&format!(
                "Another aws-s3 run is reading this bucket and type ({}); waiting for it to end.",
                path.display()
            ));
            file.lock().map_err(|e| {
                fail(
                    code::UNKNOWN,
                    format!("Cannot lock {}: {e}", path.display()),
                )
            })?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(fail(
                code::UNKNOWN,
                format!("Cannot lock {}: {e}", path.display()),
            ));
        }
    }
    Ok(file)
}
