//! The hand-over of `--service` and `--subscriber` runs to the Python wodle, until they are
//! built in.

use crate::cli::Args;
use crate::debug;
use crate::exit::{code, fail};
use crate::wazuh::Installation;
use anyhow::Result;

/// wazuh-modulesd runs this same program for `--service` and `--subscriber` modules, which
/// are not built in yet: run the Python wodle when it is still installed beside us, with the
/// arguments as given, so that its output and exit code are the run's.
pub fn to_python(args: &Args, argv: &[String]) -> Result<()> {
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
