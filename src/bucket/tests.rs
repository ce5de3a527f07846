//! Tests over every type at once: creation dates, a no-panic sweep, edge cases.

mod creation_dates {
    use super::super::*;

    #[test]
    fn creation_date_from_key() {
        assert_eq!(
            aws_logs_creation_date(
                "AWSLogs/1/CloudTrail/us-east-1/2024/03/15/1_CloudTrail_us-east-1_20240315T1405Z_Fb.json.gz"
            ),
            Some(20240315)
        );
        assert_eq!(aws_logs_creation_date("AWSLogs/x/readme.txt"), None);
        let listed = |key: &str| Listed {
            key: key.into(),
            last_modified: Some("2024-05-06T10:00:00Z".parse().unwrap()),
        };
        assert_eq!(
            custom_creation_date(&listed(
                "events/2024/07/07/07/sec-events-1-2024-07-08-07-10-00-x.gz"
            )),
            Some(20240708)
        );
        assert_eq!(
            custom_creation_date(&listed("access/2024-02-06-00-05-12-DA93")),
            Some(20240206)
        );
        assert_eq!(
            custom_creation_date(&listed("no-date-here")),
            Some(20240506)
        );
    }

    #[test]
    fn date_styles() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 5).unwrap();
        assert_eq!(DateStyle::Slashes.format(d), "2025/01/05");
        assert_eq!(DateStyle::Dashes.format(d), "2025-01-05");
        assert_eq!(DateStyle::Unpadded.format(d), "2025/1/5");
    }

    #[test]
    fn types_resolve() {
        for t in type_names() {
            assert!(for_type(t, "").is_some(), "{t}");
        }
        assert!(for_type("CloudTrail", "").is_some());
        assert!(for_type("firewall", "").is_none());
    }
}

/// No input makes a parser or a reshaping panic: malformed objects are errors.
mod robustness {
    use super::super::*;

    const SAMPLES: &[&[u8]] = &[
        b"",
        b"\n\n",
        b" ",
        b"-",
        b"{",
        b"{\"Records\": [{\"a\": null, \"requestParameters\": [\"x\"], \"tags\": [1]}]}",
        b"{\"configurationItems\": [{\"configuration\": {\"securityGroups\": 5, \"state\": [1, 2], \"createdTime\": {}, \"x\": {\"Content\": [1]}}}]}",
        b"version account-id srcaddr start end\n2 1 10.0.0.1 notanumber 99999999999999999999\n",
        b"2 123 eni 1.1.1.1 2.2.2.2 1 2 6 1 1 1735722300 1735722360 ACCEPT OK extra more\n2 1\n",
        b"{\"source\":\"aws.macie\",\"detail\":{\"summary\":{\"Events\":{\"x\":{\"count\":{\"a\":[1,{\"b\":2}]}}},\"IP\":[1]},\"lat\":040.1,\"lon\":-00.5}}  \n",
        b"{\"source\":5,\"detail\":{}}",
        b"{\"id\":1,\"service\":{\"serviceName\":\"guardduty\",\"action\":{\"portProbeAction\":{\"portProbeDetails\":[1,2,3]}}}}\n",
        b"{\"httpRequest\":{\"headers\":[{\"name\":5}]}}{\"httpRequest\":7}\n[1]\n",
        b"h2 2024 app 1:2:3 - - - - 200 - 0 0 \"unterminated",
        b"owner [unclosed \"quote 'x' [a] \"\" '\n\n  \n",
        b"\"a,b\",\"c\"\"d\",e,,\n\"multi\nline\"",
        b"\xff\xfe\x00binary\x80",
        "\u{feff}héllo wörld ✓ \"ünï cödé\"\n".as_bytes(),
    ];

    /// A small deterministic generator: the tests must not depend on a random seed.
    fn mutations(sample: &[u8]) -> Vec<Vec<u8>> {
        let mut out = vec![sample.to_vec()];
        let mut state: u32 = 0x9e37_79b9 ^ sample.len() as u32;
        for _ in 0..24 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let mut m = sample.to_vec();
            if !m.is_empty() {
                let at = state as usize % m.len();
                match state % 3 {
                    0 => m.truncate(at),
                    1 => m[at] = (state >> 8) as u8,
                    _ => m.insert(at, b"\"{[\n ,:-"[(state >> 4) as usize % 8]),
                }
            }
            out.push(m);
        }
        out
    }

    #[test]
    fn parsers_and_reshaping_never_panic() {
        let types: Vec<Box<dyn Bucket>> = vec![
            Box::new(cloudtrail::CloudTrail),
            Box::new(config::Config),
            Box::new(vpcflow::VpcFlow),
            Box::new(custom::Custom),
            Box::new(guardduty::GuardDuty { native: true }),
            Box::new(guardduty::GuardDuty { native: false }),
            Box::new(umbrella::Umbrella::new("x/dnslogs/")),
            Box::new(waf::Waf),
            Box::new(load_balancers::LoadBalancer::alb()),
            Box::new(load_balancers::LoadBalancer::clb()),
            Box::new(load_balancers::LoadBalancer::nlb()),
            Box::new(server_access::ServerAccess),
        ];
        let origin = crate::message::Origin {
            bucket: "b",
            account_alias: Some(""),
            log_key: "k",
            account_id: Some("111122223333"),
        };
        for sample in SAMPLES {
            for data in mutations(sample) {
                for t in &types {
                    for key in ["a/b.jsonl.gz", "a/b.log"] {
                        for skip_on_error in [false, true] {
                            let ctx = ParseContext { skip_on_error };
                            if let Ok(events) = t.parse(key, &data, ctx) {
                                for e in events {
                                    let msg = crate::message::envelope(&origin, e);
                                    for out in t.reshape(msg) {
                                        assert!(serde_json::to_string(&out).is_ok());
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The edge cases every line or JSON format meets in real buckets.
mod edge_cases {
    use super::super::*;

    const CTX: ParseContext = ParseContext {
        skip_on_error: false,
    };

    fn count(t: &dyn Bucket, key: &str, data: &[u8]) -> usize {
        t.parse(key, data, CTX)
            .map(|e| e.len())
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn empty_objects_have_no_events() {
        let line_types: Vec<Box<dyn Bucket>> = vec![
            Box::new(vpcflow::VpcFlow),
            Box::new(waf::Waf),
            Box::new(load_balancers::LoadBalancer::alb()),
            Box::new(load_balancers::LoadBalancer::nlb()),
            Box::new(load_balancers::LoadBalancer::clb()),
            Box::new(umbrella::Umbrella::new("dnslogs")),
            Box::new(server_access::ServerAccess),
            Box::new(custom::Custom),
            Box::new(guardduty::GuardDuty { native: true }),
        ];
        for t in &line_types {
            assert_eq!(count(t.as_ref(), "k.jsonl.gz", b""), 0, "{}", t.info().name);
        }
        // A JSON document type needs a document (json.load of nothing fails).
        assert!(cloudtrail::CloudTrail.parse("k", b"", CTX).is_err());
        assert!(config::Config.parse("k", b"", CTX).is_err());
    }

    #[test]
    fn header_only_vpc_file_and_truncated_last_lines() {
        assert_eq!(
            count(&vpcflow::VpcFlow, "k", b"version account-id start end\n"),
            0
        );
        let no_final_newline = b"2 1 eni 1.1.1.1 2.2.2.2 1 2 6 1 1 1735722300 1735722360 ACCEPT OK";
        assert_eq!(count(&vpcflow::VpcFlow, "k", no_final_newline), 1);
        let lb = load_balancers::LoadBalancer::clb();
        let e = lb
            .parse("k", b"2024-06-01T00:05:00Z my-clb 1.2.3.4:5", CTX)
            .unwrap();
        assert_eq!(
            e[0].len(),
            4,
            "three columns and source; the rest is missing, not null"
        );
        let sa = server_access::ServerAccess;
        assert_eq!(
            sa.parse("k", b"owner bucket [06/Feb/2024:00:00:38", CTX)
                .unwrap()[0]["time"],
            "[06/Feb/2024:00:00:38"
        );
    }

    #[test]
    fn non_ascii_and_dash_fields_are_kept_as_text() {
        let u = umbrella::Umbrella::new("iplogs");
        let e = u
            .parse(
                "k",
                "\"2024-08-20\",\"Büro-Köln ✓\",10.0.0.1,-,-\n".as_bytes(),
                CTX,
            )
            .unwrap();
        assert_eq!(e[0]["identity"], "Büro-Köln ✓");
        assert_eq!(e[0]["source_port"], "-");
        let nlb = load_balancers::LoadBalancer::nlb();
        let e = nlb
            .parse(
                "k",
                b"tls 2.0 t net/x l 1.2.3.4:5 6.7.8.9:443 - - - - - - - - - - - - - - - x y\n",
                CTX,
            )
            .unwrap();
        assert_eq!(e[0]["extra_fields"], serde_json::json!(["x", "y"]));
        assert_eq!(e[0]["incoming_tls_alert"], "-");
    }
}
