//! `aws-s3`: a drop-in replacement for the Wazuh AWS S3 wodle.

use wazuh_aws_s3::{cli, debug, exit, log, run, stop};

use std::io::Write;

fn finish(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// SIGINT ends the run as the reference does (exit 2); SIGTERM ends it the same way with the
/// conventional 143. Objects already sent are committed, the one in flight is not; a
/// subscriber run first gives its SQS messages back (`stop`).
async fn watch_signals() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let code = tokio::select! {
        _ = int.recv() => {
            log::error("SIGINT received.");
            exit::code::SIGINT_OR_BAD_ARGS
        }
        _ = term.recv() => {
            log::error("SIGTERM received.");
            143
        }
    };
    // A subscriber run gives its SQS messages back first, within a few seconds.
    if stop::request(code) {
        tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    }
    finish(code);
}

fn main() {
    // glibc gives each thread that allocates its own arena and keeps what it freed: with
    // dozens of worker threads that is most of the peak RSS. Two arenas serve two cores.
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets a glibc allocator parameter; it runs before any other thread
    // exists, so no allocation can race with the change.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = cli::Args::parse_process();
    log::set_debug_level(args.debug);
    if let Some(secret) = &args.secret_key {
        log::register_secret(secret);
    }
    // Masked wherever they appear only when long enough not to blank ordinary words (the
    // argument line masks them whatever their length).
    for secret in [&args.access_key, &args.external_id].into_iter().flatten() {
        if secret.len() >= 8 {
            log::register_secret(secret);
        }
    }
    debug!(1, "+++ Debug mode on - Level: {}", args.debug);
    debug!(2, "Args: {}", cli::Args::describe_argv(&argv));

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log::error(&format!(
                "Unknown error: cannot start the async runtime: {e}"
            ));
            finish(exit::code::UNKNOWN);
        }
    };
    let code = runtime.block_on(async {
        tokio::spawn(watch_signals());
        match run::run(args).await {
            Ok(()) => 0,
            Err(e) => exit::report(&e),
        }
    });
    finish(code)
}
