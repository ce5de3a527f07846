//! Where a CloudWatch Logs stream is read from, and what is stored after: the reference's
//! rules (its `get_alerts` and `update_values`, kept 30), so that a row written by the Python
//! wodle is continued without re-sending or skipping, and ours is continued by it.

/// A stream's row: the last forward token and the time span read so far (epoch ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub token: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// One GetLogEvents sequence: from `start` (inclusive), before `end` when set, after `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub token: Option<String>,
    pub start: i64,
    pub end: Option<i64>,
}

/// The reads a stream needs: the part before the stored span (when `--only_logs_after` moved
/// back), then the main read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub before: Option<Read>,
    pub main: Read,
}

/// `first_ms`: `--only_logs_after` (else today) at 00:00 UTC; `only_logs_after_ms` is set
/// only when the flag was given.
pub fn plan(
    stored: Option<&Position>,
    first_ms: i64,
    only_logs_after_ms: Option<i64>,
    reparse: bool,
) -> Plan {
    let fresh = Read {
        token: None,
        start: first_ms,
        end: None,
    };
    // S5: with --reparse the stream is read once, from the first day, without a token.
    let Some(row) = stored.filter(|_| !reparse) else {
        return Plan {
            before: None,
            main: fresh,
        };
    };
    let before = row.start.filter(|&s| s > first_ms).map(|s| Read {
        token: None,
        start: first_ms,
        end: Some(s),
    });
    let main = match row.end {
        Some(end) if only_logs_after_ms.is_none_or(|after| end > after) => Read {
            token: row.token.clone(),
            start: end + 1,
            end: None,
        },
        _ => fresh,
    };
    Plan { before, main }
}

/// `read` ended at `window_end` (exclusive, `--only_logs_before`); `None` when the whole read
/// lies after it. What is stored after the read is unaffected: only events seen move it.
pub fn clamp(read: &Read, window_end: Option<i64>) -> Option<Read> {
    let Some(window_end) = window_end else {
        return Some(read.clone());
    };
    if read.start >= window_end {
        return None;
    }
    Some(Read {
        end: Some(read.end.map_or(window_end, |end| end.min(window_end))),
        ..read.clone()
    })
}

/// What one read saw: its last forward token and the span of the events it sent (starting
/// from the read's own window, as the reference does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub token: Option<String>,
    pub start: i64,
    pub end: i64,
}

impl Seen {
    pub fn new(read: &Read) -> Self {
        Seen {
            token: read.token.clone(),
            start: read.start,
            end: read.end.unwrap_or(read.start),
        }
    }

    /// An event was sent.
    pub fn event(&mut self, timestamp: i64) {
        self.start = self.start.min(timestamp);
        self.end = self.end.max(timestamp);
    }
}

/// The row after the reads (`update_values`): the main read's token; the smallest start and
/// the largest end of the row and the reads (a row without start takes the largest end).
pub fn merge(stored: Option<&Position>, before: Option<&Seen>, main: &Seen) -> Position {
    let start = before.map_or(main.start, |b| b.start.min(main.start));
    let end = before.map_or(main.end, |b| b.end.max(main.end));
    let Some(row) = stored else {
        return Position {
            token: main.token.clone(),
            start: Some(start),
            end: Some(end),
        };
    };
    Position {
        token: main.token.clone(),
        start: Some(match row.start {
            Some(s) => s.min(start),
            None => end,
        }),
        end: Some(row.end.map_or(end, |e| e.max(end))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 1_717_977_600_000; // 2024-06-10 00:00 UTC

    fn row(token: &str, start: i64, end: i64) -> Position {
        Position {
            token: Some(token.into()),
            start: Some(start),
            end: Some(end),
        }
    }

    #[test]
    fn a_new_stream_is_read_from_the_first_day() {
        let p = plan(None, DAY, Some(DAY), false);
        assert_eq!(p.before, None);
        assert_eq!(
            p.main,
            Read {
                token: None,
                start: DAY,
                end: None
            }
        );
    }

    #[test]
    fn a_stored_stream_continues_after_its_end_with_its_token() {
        let stored = row("f/4", DAY, DAY + 500);
        let p = plan(Some(&stored), DAY, None, false);
        assert_eq!(
            p.main,
            Read {
                token: Some("f/4".into()),
                start: DAY + 501,
                end: None
            }
        );
        assert_eq!(p.before, None);
    }

    #[test]
    fn an_earlier_only_logs_after_reads_the_gap_before_the_stored_start() {
        let stored = row("f/4", DAY + 100, DAY + 500);
        let p = plan(Some(&stored), DAY, Some(DAY), false);
        assert_eq!(
            p.before,
            Some(Read {
                token: None,
                start: DAY,
                end: Some(DAY + 100)
            })
        );
        assert_eq!(p.main.start, DAY + 501);
    }

    #[test]
    fn an_only_logs_after_past_the_stored_end_starts_afresh() {
        let stored = row("f/4", DAY - 900, DAY - 500);
        let p = plan(Some(&stored), DAY, Some(DAY), false);
        assert_eq!(
            p.main,
            Read {
                token: None,
                start: DAY,
                end: None
            }
        );
    }

    #[test]
    fn reparse_reads_once_without_token() {
        let stored = row("f/4", DAY, DAY + 500);
        let p = plan(Some(&stored), DAY, Some(DAY), true);
        assert_eq!(
            p,
            Plan {
                before: None,
                main: Read {
                    token: None,
                    start: DAY,
                    end: None
                }
            }
        );
    }

    #[test]
    fn rows_keep_the_widest_span_and_the_main_token() {
        let mut main = Seen::new(&Read {
            token: None,
            start: DAY,
            end: None,
        });
        for t in [DAY + 845, DAY + 120, DAY + 9000] {
            main.event(t);
        }
        main.token = Some("f/3".into());
        assert_eq!(merge(None, None, &main), row("f/3", DAY, DAY + 9000));
        // Nothing new: the window start (end + 1) becomes the end (kept 30).
        let stored = row("f/3", DAY, DAY + 9000);
        let mut again = Seen::new(&plan(Some(&stored), DAY, None, false).main);
        again.token = Some("f/3".into());
        assert_eq!(
            merge(Some(&stored), None, &again),
            row("f/3", DAY, DAY + 9001)
        );
        // A stream whose events all precede the window: start = end = the window start.
        let empty = Seen::new(&Read {
            token: None,
            start: DAY,
            end: None,
        });
        assert_eq!(
            merge(None, None, &empty),
            Position {
                token: None,
                start: Some(DAY),
                end: Some(DAY)
            }
        );
    }

    #[test]
    fn a_row_without_start_takes_the_largest_end() {
        let stored = Position {
            token: None,
            start: None,
            end: Some(DAY),
        };
        let mut main = Seen::new(&Read {
            token: None,
            start: DAY + 1,
            end: None,
        });
        main.event(DAY + 50);
        let merged = merge(Some(&stored), None, &main);
        assert_eq!((merged.start, merged.end), (Some(DAY + 50), Some(DAY + 50)));
    }

    #[test]
    fn a_window_end_cuts_reads_and_drops_those_after_it() {
        let read = |start, end| Read {
            token: None,
            start,
            end,
        };
        assert_eq!(clamp(&read(DAY, None), None), Some(read(DAY, None)));
        assert_eq!(
            clamp(&read(DAY, None), Some(DAY + 10)),
            Some(read(DAY, Some(DAY + 10)))
        );
        assert_eq!(
            clamp(&read(DAY, Some(DAY + 5)), Some(DAY + 10)),
            Some(read(DAY, Some(DAY + 5)))
        );
        assert_eq!(clamp(&read(DAY + 10, None), Some(DAY + 10)), None);
    }
}
