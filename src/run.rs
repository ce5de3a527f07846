//! One run, from validated arguments to a source, in the reference's order of checks (which
//! decides what exists on disk when a run fails early).

use crate::aws;
use crate::bucket::{Bucket, ParseContext, TypeInfo};
use crate::cli::{Args, Mode};
use crate::options;
use crate::pipeline::window::ParseWindow;
use crate::pipeline::RunContext;
use crate::queue::{Output, Queue};
use crate::service::db::ServicesDb;
use crate::service::Service;
use crate::sink::consumer::Consumer;
use crate::sink::Sink;
use crate::source::listing::ListingSource;
use crate::source::sqs::queue::SqsQueue;
use crate::source::sqs::NotificationSource;
use crate::state::State;
use crate::subscriber::Subscriber;
use crate::wazuh::Installation;
use anyhow::Result;
use std::sync::Arc;

/// One run, or `--status` / `--check` for the operator.
pub async fn run(args: Args) -> Result<()> {
    if args.status {
        return crate::operator::status::run(&args);
    }
    let mode = args.validate()?;
    if args.check {
        return crate::operator::check::run(&args, &mode).await;
    }
    match mode {
        Mode::Bucket { name, kind } => bucket_run(&args, name, kind).await,
        Mode::Subscriber { kind, queue } => subscriber_run(&args, kind, &queue).await,
        Mode::Service(service) => service_run(&args, service).await,
    }
}

async fn service_run(args: &Args, service: Service) -> Result<()> {
    let install = Installation::locate(args.wazuh_root.clone());
    let version = install.version()?;
    let clients = aws::build_clients(&options::aws_options(args)).await?;
    let regions = crate::service::regions(
        service,
        args.regions.as_ref().map(|l| l.0.as_slice()),
        aws::config_region(args.aws_profile.as_deref()),
    );
    let opts = options::service_options(args, options::regex_discard_filter(args)?);
    let path = install.services_db();
    let open_db = || match opts.dry_run {
        true => ServicesDb::open_dry(&path),
        false => ServicesDb::open(&path, &version),
    };
    let mut sink = open_sink(args, &install)?;
    let started = std::time::Instant::now();
    let result = crate::service::run(service, &regions, &clients, &opts, open_db, &mut sink).await;
    let result = result.and(sink.finish().await);
    sink.summary.report(started.elapsed().as_secs_f64());
    result
}

async fn subscriber_run(args: &Args, subscriber: Subscriber, name: &str) -> Result<()> {
    let install = Installation::locate(args.wazuh_root.clone());
    let clients = aws::build_clients(&options::aws_options(args)).await?;
    let sink = open_sink(args, &install)?;
    let queue = SqsQueue::open(clients.sqs(), name).await?;
    let discard = options::regex_discard_filter(args)?.map(Arc::new);
    let source = NotificationSource {
        opts: options::notification_options(args, subscriber),
        queue,
        run: Arc::new(RunContext {
            s3: clients.s3.clone(),
            format: subscriber.format(),
            ctx: ParseContext {
                skip_on_error: args.skip_on_error,
            },
            discard,
            account_alias: None,
            bytes_read: sink.summary.bytes_read.clone(),
            window: ParseWindow::for_this_machine(),
        }),
        sink,
    };
    let started = std::time::Instant::now();
    let (summary, result) = source.run().await;
    summary.report(started.elapsed().as_secs_f64());
    result
}

async fn bucket_run(args: &Args, bucket_name: String, bucket_type: Arc<dyn Bucket>) -> Result<()> {
    let install = Installation::locate(args.wazuh_root.clone());
    let version = install.version()?;
    let clients = aws::build_clients(&options::aws_options(args)).await?;
    let discard = options::bucket_discard_filter(args)?.map(Arc::new);
    let (_lock, state) = open_state(args, &install, &version, bucket_type.info(), &bucket_name)?;
    let sink = open_sink(args, &install)?;
    let (bucket_type, opts) =
        options::resolve_bucket(args, bucket_name, bucket_type, &clients).await?;
    let bytes_read = sink.summary.bytes_read.clone();
    let source = ListingSource {
        opts,
        bucket: bucket_type.clone(),
        run: Arc::new(RunContext {
            s3: clients.s3.clone(),
            format: bucket_type.clone(),
            ctx: ParseContext {
                skip_on_error: args.skip_on_error,
            },
            discard,
            account_alias: Some(args.aws_account_alias.clone()),
            bytes_read,
            window: ParseWindow::for_this_machine(),
        }),
        clients: &clients,
        state,
        sink,
        progress: Default::default(),
        unconfirmed: Default::default(),
    };
    let started = std::time::Instant::now();
    let (summary, result) = source.run().await;
    summary.report(started.elapsed().as_secs_f64());
    result
}

/// The run lock and the state file; a dry run takes no lock and opens the state read-only.
fn open_state(
    args: &Args,
    install: &Installation,
    version: &str,
    info: &TypeInfo,
    bucket: &str,
) -> Result<(Option<std::fs::File>, State)> {
    if args.dry_run() {
        let state = State::open_read_only(&install.state_db(), info.table, info.table_kind)?;
        return Ok((None, state));
    }
    // A manual backfill overlapping wazuh-modulesd's scheduled run of the same bucket and
    // type would send objects twice: the second run waits for the first to end.
    let lock = crate::run_lock::hold(&install.run_lock(bucket, info.name))?;
    let state = State::open(&install.state_db(), version, info.table, info.table_kind)?;
    Ok((Some(lock), state))
}

/// The Wazuh queue socket, paced to what reads it, or the `--output` file.
fn open_sink(args: &Args, install: &Installation) -> Result<Sink> {
    let (output, consumer) = match &args.output {
        Some(path) => (
            Output::to_path(path)?,
            Consumer::Unobserved("--output writes to a file".into()),
        ),
        None => {
            let path = args
                .queue_socket
                .clone()
                .unwrap_or_else(|| install.queue_socket());
            let consumer = Consumer::detect(install, &path);
            (Output::Socket(Queue::new(&path)), consumer)
        }
    };
    crate::debug!(1, "+++ {}", consumer.describe(args.max_eps));
    Ok(Sink::paced(output, consumer, args.max_eps))
}
