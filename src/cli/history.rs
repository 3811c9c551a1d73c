//! `clawpair history`: the decisions recorded in the audit log beside the
//! state dir (and those made through remote gateways, in clawpair's config
//! dir), oldest first. A read: nothing is created or changed.

use clap::Args;

use super::table::{self, Column};
use super::{CliResult, Ctx, Failure};
use crate::audit::{self, Filter, Outcome, Place, Record, Via};
use crate::clock;
use crate::sanitize::for_terminal;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print the records as a JSON array (the log's own fields).
    #[arg(long)]
    pub json: bool,
    /// Only decisions this recent (e.g. 30m, 1h, 7d) or since this time
    /// (e.g. 2026-03-01 or 2026-03-01T12:00:00Z).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only decisions about this device (id or its prefix, fingerprint, or display name).
    #[arg(long, value_name = "ID")]
    pub device: Option<String>,
    /// Only decisions about DM senders of this channel.
    #[arg(long, value_name = "CHANNEL")]
    pub channel: Option<String>,
}

/// `--since`: a duration back from now, or a date/time.
pub fn parse_since(raw: &str, now_ms: i64) -> Result<i64, Failure> {
    let s = raw.trim();
    if let Some(ms) = crate::gateway::setup::parse_duration_ms(s) {
        if s.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Ok(now_ms.saturating_sub(ms));
        }
    }
    clock::parse_iso_ms(s).ok_or_else(|| {
        Failure::usage(format!(
            "invalid --since: {} (use a duration such as 30m, 1h, 7d, or a date such as 2026-03-01)",
            for_terminal(s)
        ))
    })
}

/// The logs `clawpair history` reads: the state dir's, then the one for remote gateways.
pub fn log_paths(ctx: &Ctx) -> Vec<std::path::PathBuf> {
    let mut paths = vec![
        Place::Local(ctx.paths.state_dir.clone()).log_path(),
        Place::Gateway(String::new()).log_path(),
    ];
    // An OpenClaw 2026.7+ state dir logs in the config dir too: one file.
    paths.dedup();
    paths
}

pub fn run(ctx: &Ctx, a: HistoryArgs) -> CliResult {
    let now = clock::now_ms();
    let filter = Filter {
        since_ms: a
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?,
        device: a.device.clone().filter(|d| !d.trim().is_empty()),
        channel: a.channel.clone().filter(|c| !c.trim().is_empty()),
    };
    let paths = log_paths(ctx);
    tracing::debug!("reading the decision history from {paths:?}");
    let h = audit::read_all(&paths);
    for e in &h.errors {
        eprintln!("clawpair: warning: {}", e.replace('\n', " "));
    }
    if h.damaged > 0 {
        eprintln!(
            "clawpair: warning: {} damaged line(s) in the decision history were skipped",
            h.damaged
        );
    }
    let records: Vec<&Record> = h.records.iter().filter(|r| filter.matches(r)).collect();
    if a.json {
        let text = serde_json::to_string_pretty(&records)
            .map_err(|e| Failure::error(format!("cannot encode the history: {e}")))?;
        return super::write_stdout(&format!("{text}\n"));
    }
    if records.is_empty() {
        let empty = if h.records.is_empty() {
            format!(
                "No decisions recorded yet ({} does not exist or is empty).\n",
                paths[0].display()
            )
        } else {
            "No recorded decisions match.\n".to_string()
        };
        return super::write_stdout(&empty);
    }
    // One place (the usual case) goes in the heading; several get a column.
    let places: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.place.as_str()).collect();
    let one_place = places.len() == 1;
    let mut cols = vec![
        Column::new("Time (UTC)", 21, false),
        Column::new("Action", 9, false),
        Column::new("Subject", 20, true),
        Column::new("Made", 10, false),
    ];
    if !one_place {
        cols.push(Column::new("Where", 10, true));
    }
    cols.push(Column::new("User", 6, false));
    cols.push(Column::new("Result", 8, true));
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let mut v = vec![
                short_time(r),
                r.action.as_str().to_string(),
                r.subject.describe(),
                made(r),
            ];
            if !one_place {
                v.push(for_terminal(&r.place));
            }
            v.push(for_terminal(&r.user));
            v.push(result(r));
            v
        })
        .collect();
    let heading = if one_place {
        format!(
            "Decisions ({}) · {}",
            rows.len(),
            for_terminal(places.iter().next().copied().unwrap_or(""))
        )
    } else {
        format!("Decisions ({})", rows.len())
    };
    super::write_stdout(&format!(
        "{heading}\n{}",
        table::render(&cols, &rows, table::target_width())
    ))
}

/// `2026-03-01 12:00:05`.
pub fn short_time(r: &Record) -> String {
    match r.ts_ms() {
        Some(t) => {
            let iso = clock::format_iso_ms(t);
            format!("{} {}", &iso[..10], &iso[11..19])
        }
        None => for_terminal(&r.ts),
    }
}

/// Where it was made, in words: `console`, `cli`, `elsewhere (seen by console)`.
pub fn made(r: &Record) -> String {
    match (r.via, r.observed_by) {
        (Via::Elsewhere, Some(o)) => format!("elsewhere (seen by {})", o.as_str()),
        (v, _) => v.as_str().to_string(),
    }
}

/// `ok`, or `failed: why`.
pub fn result(r: &Record) -> String {
    match (&r.result, &r.detail) {
        (Outcome::Ok, None) => "ok".into(),
        (Outcome::Ok, Some(d)) => format!("ok ({})", for_terminal(d)),
        (Outcome::Failed, Some(d)) => format!("failed: {}", for_terminal(d)),
        (Outcome::Failed, None) => "failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_dates() {
        let now = 1_772_366_400_000;
        assert_eq!(parse_since("1h", now).unwrap(), now - 3_600_000);
        assert_eq!(
            parse_since("2026-03-01", now).unwrap(),
            now - 12 * 3_600_000
        );
        assert_eq!(parse_since("yesterday", now).err().unwrap().code, 2);
    }
}
