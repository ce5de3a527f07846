//! The command line of the reference wodle (`aws_tools.get_script_arguments`), flag for flag.
//!
//! Names, short forms, defaults and validation messages follow the reference so that
//! wazuh-modulesd and existing cron lines keep working. argparse accepts multi-letter short
//! flags (`-df`, `-sr`, ...); clap would read `-df` as `-d f`, so [`normalize_argv`] rewrites
//! them to their long form before clap sees them.

pub mod mode;
pub mod values;

use chrono::NaiveDate;
use clap::{ArgGroup, Parser};
pub use mode::Mode;
use std::path::PathBuf;
pub use values::*;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "aws-s3",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("AWS_S3_COMMIT"), ")"),
    about = "Wazuh wodle for monitoring AWS: reads AWS logs from an S3 bucket and sends them to Wazuh",
    long_about = "Wazuh wodle for monitoring AWS.\n\n\
        Reads the logs a service writes to an S3 bucket, sends each event to the Wazuh analysis \
        queue (<wazuh>/queue/sockets/queue) and records every processed object in \
        <wazuh>/wodles/aws/s3_cloudtrail.db, so the next run continues where this one stopped. \
        With --subscriber it reads the objects that S3 notifications in an SQS queue name \
        instead, and deletes each message once its events were sent; with --service it reads \
        CloudWatch Logs streams or Inspector v2 findings.\n\n\
        A drop-in replacement for <wazuh>/wodles/aws/aws-s3: same flags, messages, state file and \
        exit codes.",
    // `--status` stands in for a source: it reads every state file, narrowed by the others.
    group(ArgGroup::new("source").required(true).multiple(true).args(["bucket", "service", "subscriber", "status"])),
)]
pub struct Args {
    /// S3 bucket containing the AWS logs (S3 bucket-name rules apply).
    #[arg(short = 'b', long = "bucket", value_name = "NAME", value_parser = valid_bucket_name, conflicts_with_all = ["service", "subscriber"], help_heading = "Source")]
    pub bucket: Option<String>,

    /// Bucket type: cloudtrail (the default), vpcflow, config, custom, guardduty,
    /// cisco_umbrella, waf, alb, clb, nlb or server_access (case-insensitive).
    #[arg(
        short = 't',
        long = "type",
        value_name = "TYPE",
        help_heading = "Source"
    )]
    pub bucket_type: Option<String>,

    /// Read an AWS service instead of a bucket: cloudwatchlogs (the streams of
    /// --aws_log_groups) or inspector (Inspector v2 findings). Progress is kept in
    /// <wazuh>/wodles/aws/aws_services.db. Short form: -sr.
    #[arg(
        long = "service",
        value_name = "SERVICE",
        conflicts_with = "subscriber",
        help_heading = "Source"
    )]
    pub service: Option<String>,

    /// Read the objects that S3 event notifications in an SQS queue name, instead of listing a
    /// bucket: buckets (JSON, CSV or text objects), security_hub (Security Hub findings) or
    /// security_lake (Parquet; needs --iam_role_arn and --external_id). Each SQS message is
    /// deleted once its objects were sent; no state file is kept. Short form: -sb.
    #[arg(long = "subscriber", value_name = "TYPE", help_heading = "Source")]
    pub subscriber: Option<String>,

    /// Name of the SQS queue, with --subscriber (letters, digits, - and _, up to 80), looked up
    /// in the profile's region. The run ends when the queue is empty.
    #[arg(short = 'q', long = "queue", value_name = "NAME", value_parser = valid_sqs_name, help_heading = "Source")]
    pub queue: Option<String>,

    /// Log groups to read, with --service cloudwatchlogs (comma list; every stream of each group
    /// is read from where the last run stopped).
    #[arg(short = 'g', long = "aws_log_groups", value_name = "GROUPS", default_value = "", value_parser = valid_key_no_slash, help_heading = "Source")]
    pub aws_log_groups: String,

    /// Profile from ~/.aws/credentials and ~/.aws/config to take credentials, region and
    /// retry settings from.
    #[arg(
        short = 'p',
        long = "aws_profile",
        value_name = "PROFILE",
        help_heading = "Authentication"
    )]
    pub aws_profile: Option<String>,

    /// ARN of an IAM role to assume (through STS, session name WazuhLogParsing) to read the bucket.
    #[arg(short = 'i', long = "iam_role_arn", value_name = "ARN", value_parser = valid_iam_role_arn, help_heading = "Authentication")]
    pub iam_role_arn: Option<String>,

    /// Duration of the assumed role session in seconds, 900 to 3600; needs --iam_role_arn.
    /// Short form: -rd.
    #[arg(long = "iam_role_duration", value_name = "SECONDS", value_parser = valid_iam_role_duration, help_heading = "Authentication")]
    pub iam_role_duration: Option<u32>,

    /// External ID for the role assumption (subscribers).
    #[arg(
        short = 'x',
        long = "external_id",
        value_name = "ID",
        help_heading = "Authentication"
    )]
    pub external_id: Option<String>,

    /// Access key ID. Deprecated since Wazuh 4.4: use a profile or a role instead.
    #[arg(
        short = 'a',
        long = "access_key",
        value_name = "KEY",
        help_heading = "Authentication"
    )]
    pub access_key: Option<String>,

    /// Secret access key. Deprecated since Wazuh 4.4: use a profile or a role instead.
    /// Never printed, at any debug level.
    #[arg(
        short = 'k',
        long = "secret_key",
        value_name = "SECRET",
        help_heading = "Authentication"
    )]
    pub secret_key: Option<String>,

    /// URL of the STS endpoint (e.g. a VPC endpoint) used to assume --iam_role_arn. Short form: -st.
    #[arg(
        long = "sts_endpoint",
        value_name = "URL",
        help_heading = "Authentication"
    )]
    pub sts_endpoint: Option<String>,

    /// URL of the S3 endpoint to read the logs from (a VPC endpoint or an S3-compatible
    /// store). Default: AWS_ENDPOINT_URL, then the AWS endpoint. Short form: -se.
    #[arg(
        long = "service_endpoint",
        value_name = "URL",
        help_heading = "Authentication"
    )]
    pub service_endpoint: Option<String>,

    /// Only read these accounts: comma list of 12-digit IDs. Default: every account found
    /// under AWSLogs/.
    #[arg(short = 'c', long = "aws_account_id", value_name = "IDS", value_parser = valid_account_ids, help_heading = "Selection")]
    pub aws_account_id: Option<List>,

    /// Alias of the account, copied into each event's log_info.aws_account_alias.
    #[arg(
        short = 'n',
        long = "aws_account_alias",
        value_name = "ALIAS",
        default_value = "",
        help_heading = "Selection"
    )]
    pub aws_account_alias: String,

    /// AWS organization ID of an organization trail (AWSLogs/[SUFFIX/]ORG_ID/ACCOUNT/...).
    #[arg(
        short = 'O',
        long = "aws_organization_id",
        value_name = "ORG_ID",
        help_heading = "Selection"
    )]
    pub aws_organization_id: Option<String>,

    /// Key prefix in front of AWSLogs/ (a trailing / is added).
    #[arg(short = 'l', long = "trail_prefix", value_name = "PREFIX", default_value = "", value_parser = valid_key, help_heading = "Selection")]
    pub trail_prefix: String,

    /// Key part between AWSLogs/ and the account folders (a trailing / is added).
    #[arg(short = 'L', long = "trail_suffix", value_name = "SUFFIX", default_value = "", value_parser = valid_key, help_heading = "Selection")]
    pub trail_suffix: String,

    /// Only read logs from this date on, format YYYY-MMM-DD (e.g. 2024-JAN-31). Default: today
    /// (UTC) on the first run; later runs continue after the last processed object (stream
    /// position, scan date).
    #[arg(short = 's', long = "only_logs_after", value_name = "DATE", value_parser = valid_date, help_heading = "Selection")]
    pub only_logs_after: Option<NaiveDate>,

    /// Only read logs up to this date (inclusive), format YYYY-MMM-DD: objects whose key
    /// dates a later day and CloudWatch events or Inspector findings after that day are left
    /// for a later run. With --reparse and --only_logs_after, replays a closed window without
    /// touching anything newer.
    #[arg(long = "only_logs_before", value_name = "DATE", value_parser = valid_date, help_heading = "Selection")]
    pub only_logs_before: Option<NaiveDate>,

    /// Only read these regions: comma list (e.g. us-east-1,eu-west-1). Default: every region
    /// folder found for each account; for --service, the profile's region in ~/.aws/config,
    /// else every region the service has.
    #[arg(short = 'r', long = "regions", value_name = "REGIONS", value_parser = valid_regions, help_heading = "Selection")]
    pub regions: Option<List>,

    /// Name of the event field (dotted path, e.g. userIdentity.type) that --discard-regex is
    /// matched against. Short form: -df.
    #[arg(
        long = "discard-field",
        value_name = "FIELD",
        help_heading = "Selection"
    )]
    pub discard_field: Option<String>,

    /// Events whose --discard-field value matches this regex (from its start) are not sent.
    /// Short form: -dr.
    #[arg(
        long = "discard-regex",
        value_name = "REGEX",
        help_heading = "Selection"
    )]
    pub discard_regex: Option<String>,

    /// Send one error_msg event for an object that cannot be decompressed or parsed, and go
    /// on, instead of stopping the run.
    #[arg(short = 'e', long = "skip_on_error", help_heading = "Behaviour")]
    pub skip_on_error: bool,

    /// Read again objects already recorded as processed (from --only_logs_after, or today).
    /// Nothing is recorded in this mode.
    #[arg(short = 'o', long = "reparse", help_heading = "Behaviour")]
    pub reparse: bool,

    /// Delete each object from the bucket once its events were sent. Beware: the logs are gone.
    #[arg(short = 'R', long = "remove", help_heading = "Behaviour")]
    pub remove: bool,

    /// Remove processed log streams from the log group (--service cloudwatchlogs).
    #[arg(short = 'P', long = "remove-log-streams", help_heading = "Behaviour")]
    pub remove_log_streams: bool,

    /// Objects requested from S3 at the same time. Default: 32 per CPU core, from 32 to 128
    /// (S3 answers each request after tens of milliseconds, and parsing an object takes a few:
    /// many requests in flight keep the cores busy). Only 4 objects per core are parsed ahead
    /// of the queue; the others wait with their bodies unread, so N costs connections, not
    /// memory (about 40 MiB in all at N = 256 for CloudTrail). Events are still sent, and
    /// objects recorded, in listing order.
    #[arg(long = "workers", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Behaviour")]
    pub workers: Option<u16>,

    /// Subscribers: read only objects of these buckets (NAME, or NAME:ACCOUNT to also require
    /// that the bucket belongs to that account, S3's ExpectedBucketOwner). A message that
    /// names another bucket is left in the queue for its redrive policy. Without it, any
    /// bucket the credentials can read, as the Python wodle does.
    #[arg(
        long = "allowed_buckets",
        value_name = "NAME[:ACCOUNT][,...]",
        value_parser = allowed_buckets,
        help_heading = "Behaviour"
    )]
    pub allowed_buckets: Option<String>,

    /// Send at most N events a second, whatever the consumer takes (for a manager or agent
    /// that other senders keep busy, or where nothing can be observed). Without it a run is
    /// paced to what Wazuh tells: on a manager, analysisd's event queue is kept under half
    /// full and objects are recorded only once no AWS event was dropped; on a 4.x agent,
    /// 75% of its client buffer's events_per_second and half its queue_size ahead.
    #[arg(long = "max_eps", value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Behaviour")]
    pub max_eps: Option<u32>,

    /// Debug level 0 to 3: 1 progress, 2 markers and objects, 3 every message sent.
    #[arg(
        short = 'd',
        long = "debug",
        value_name = "LEVEL",
        default_value_t = 0,
        help_heading = "Output"
    )]
    pub debug: u8,

    /// Write each message, one per line exactly as it would be sent, to FILE ('-' for
    /// stdout) instead of the Wazuh queue: a dry run for backfills and for checking filters.
    /// The state file is left untouched unless --update_state is given.
    #[arg(long = "output", value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// With --output, still record the objects in the state file (as a real run would).
    #[arg(long = "update_state", requires = "output", help_heading = "Output")]
    pub update_state: bool,

    /// Send to this UNIX datagram socket instead of <wazuh>/queue/sockets/queue.
    #[arg(
        long = "queue_socket",
        value_name = "PATH",
        conflicts_with = "output",
        help_heading = "Output"
    )]
    pub queue_socket: Option<PathBuf>,

    /// Try everything the run with these flags would need, without sending an event or
    /// changing a file: credentials and role, the bucket (region, listing, the newest object
    /// read and decompressed), the queue or the service, the Wazuh queue socket and its
    /// reader, the state file, the clock. One line per check (ok, FAILED with its likely
    /// cause and fix, or skipped); exit 0 when nothing FAILED, else 1.
    #[arg(long = "check", conflicts_with = "status", help_heading = "Operator")]
    pub check: bool,

    /// Print what the state files hold, without calling AWS: per bucket, type, account and
    /// region the objects recorded, the newest key and its date, the lag behind today and
    /// when an object was last recorded; CloudWatch stream positions; Inspector scans.
    /// Narrowed by --bucket, --type, --aws_account_id, --regions and --service; with --json
    /// (or --output FILE, '-' for stdout) as JSON lines.
    #[arg(long = "status", help_heading = "Operator")]
    pub status: bool,

    /// With --status or --check, print one JSON object per line instead of text.
    #[arg(long = "json", help_heading = "Operator")]
    pub json: bool,

    /// Wazuh installation folder. Default: the folder above `wodles` in this program's path,
    /// else /var/ossec. Also read from the WAZUH_ROOT environment variable.
    #[arg(
        long = "wazuh_root",
        value_name = "DIR",
        env = "WAZUH_ROOT",
        help_heading = "Output"
    )]
    pub wazuh_root: Option<PathBuf>,
}

impl Args {
    /// Parse the process arguments as the reference does, multi-letter short flags included.
    pub fn parse_process() -> Self {
        Args::parse_from(normalize_argv(std::env::args_os().collect()))
    }

    /// `--workers`, or the default for this machine.
    pub fn workers(&self) -> usize {
        match self.workers {
            Some(n) => n as usize,
            None => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores * 32).clamp(32, 128)
            }
        }
    }

    /// `--type`, or the reference's default.
    pub fn bucket_type(&self) -> &str {
        self.bucket_type.as_deref().unwrap_or("cloudtrail")
    }

    /// `--output` without `--update_state`: nothing reaches Wazuh or the state files.
    pub fn dry_run(&self) -> bool {
        self.output.is_some() && !self.update_state
    }

    /// The arguments for a debug line, secrets masked.
    pub fn describe_argv(argv: &[String]) -> String {
        // Credentials, and the external id that guards a role against the confused deputy.
        const SECRET: [(&str, &str); 3] = [
            ("-k", "--secret_key"),
            ("-a", "--access_key"),
            ("-x", "--external_id"),
        ];
        let mut out = Vec::with_capacity(argv.len());
        let mut mask_next = false;
        for a in argv {
            if mask_next {
                out.push(format!("'{}'", crate::log::REDACTED));
                mask_next = false;
                continue;
            }
            if SECRET.iter().any(|(short, long)| a == short || a == long) {
                mask_next = true;
            }
            let joined = SECRET
                .iter()
                .find(|(_, long)| a.starts_with(&format!("{long}=")));
            if let Some((_, long)) = joined {
                out.push(format!("'{long}={}'", crate::log::REDACTED));
                continue;
            }
            out.push(format!("'{a}'"));
        }
        format!("[{}]", out.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let argv = std::iter::once("aws-s3")
            .chain(args.iter().copied())
            .map(std::ffi::OsString::from)
            .collect();
        Args::try_parse_from(normalize_argv(argv))
    }

    #[test]
    fn multi_letter_short_flags_are_accepted() {
        let a = parse(&[
            "-b",
            "my-bucket",
            "-df",
            "userIdentity.type",
            "-dr",
            "Root",
            "-st",
            "https://sts.example",
            "-se=https://s3.example",
            "-rd",
            "900",
            "-i",
            "arn:aws:iam::123456789012:role/r",
        ])
        .unwrap();
        assert_eq!(a.discard_field.as_deref(), Some("userIdentity.type"));
        assert_eq!(a.discard_regex.as_deref(), Some("Root"));
        assert_eq!(a.sts_endpoint.as_deref(), Some("https://sts.example"));
        assert_eq!(a.service_endpoint.as_deref(), Some("https://s3.example"));
        assert_eq!(a.iam_role_duration, Some(900));
        assert_eq!(a.debug, 0);
        assert_eq!(a.bucket_type(), "cloudtrail");
    }

    #[test]
    fn one_source_is_required() {
        assert!(parse(&["-t", "cloudtrail"]).is_err());
        assert!(parse(&["-b", "abc", "-sr", "inspector"]).is_err());
        assert!(parse(&["-sr", "inspector"]).is_ok());
        assert!(parse(&["-sb", "buckets", "-sr", "inspector"]).is_err());
        // --status reads every state file, narrowed by a source when one is given.
        assert!(parse(&["--status"]).is_ok());
        assert!(parse(&["--status", "-b", "abc", "-t", "config"]).is_ok());
        assert!(parse(&["--status", "--check", "-b", "abc"]).is_err());
    }

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused() {
        let a = parse(&[
            "-b",
            "abc",
            "-s",
            "2024-MAR-05",
            "--only_logs_before",
            "2024-MAR-04",
        ])
        .unwrap();
        let err = a.validate().unwrap_err();
        assert_eq!(crate::exit::report(&err), 2);
        let a = parse(&[
            "-b",
            "abc",
            "-s",
            "2024-MAR-05",
            "--only_logs_before",
            "2024-MAR-05",
        ])
        .unwrap();
        assert!(matches!(a.validate().unwrap(), Mode::Bucket { .. }));
    }

    #[test]
    fn dates_follow_strptime() {
        assert_eq!(
            valid_date("2024-JAN-31").unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()
        );
        assert_eq!(
            valid_date("2024-feb-9").unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 9).unwrap()
        );
        assert!(valid_date("2024-13-01").is_err());
        assert!(valid_date("2023-FEB-29").is_err());
        assert!(valid_date("24-JAN-01").is_err());
        assert!(valid_date("2024-January-01").is_err());
    }

    #[test]
    fn regions_are_checked_sorted_and_unique() {
        assert_eq!(
            valid_regions("us-west-2,eu-central-1,us-west-2").unwrap().0,
            vec!["eu-central-1", "us-west-2"]
        );
        assert!(valid_regions("us_west_2").is_err());
        assert!(valid_regions("us-west-2,,eu-west-1").is_err());
        assert!(valid_regions("us-gov-west-1").is_ok());
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert_eq!(
            valid_account_ids("111122223333,444455556666")
                .unwrap()
                .0
                .len(),
            2
        );
        assert!(valid_account_ids("1111222233").is_err());
        assert!(valid_account_ids("11112222333a").is_err());
    }

    #[test]
    fn keys_get_a_trailing_slash_and_reject_bad_characters() {
        assert_eq!(valid_key("trails/main").unwrap(), "trails/main/");
        assert_eq!(valid_key("trails/").unwrap(), "trails/");
        assert_eq!(valid_key("").unwrap(), "");
        assert!(valid_key("bad{key").is_err());
        assert!(valid_key("a&amp;b").is_err());
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(valid_bucket_name("acme-cloudtrail-logs").is_ok());
        assert!(valid_bucket_name("Upper").is_err());
        assert!(valid_bucket_name("ab").is_err());
        assert!(valid_bucket_name("xn--bucket").is_err());
        assert!(valid_bucket_name("bucket-s3alias").is_err());
    }

    #[test]
    fn role_duration_range() {
        assert!(valid_iam_role_duration("899").is_err());
        assert!(valid_iam_role_duration("3600").is_ok());
        assert!(valid_iam_role_duration("15m").is_err());
    }

    #[test]
    fn duration_without_role_is_exit_1() {
        let a = parse(&["-b", "abc", "-rd", "900"]).unwrap();
        let err = a.validate().unwrap_err();
        assert_eq!(crate::exit::report(&err), 1);
    }

    #[test]
    fn secret_is_masked_in_argv_line() {
        let argv: Vec<String> = [
            "aws-s3",
            "-k",
            "SECRET",
            "--secret_key=SECRET2",
            "-a",
            "SECRET3",
            "--external_id=SECRET4",
            "-x",
            "SECRET5",
            "--access_key",
            "SECRET6",
            "-b",
            "x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let line = Args::describe_argv(&argv);
        assert!(!line.contains("SECRET"), "{line}");
        assert!(line.contains("'-b', 'x'"), "{line}");
    }
}
