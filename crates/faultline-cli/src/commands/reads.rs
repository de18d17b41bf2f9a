//! `faultline failures` and `faultline flaky`: tables for a person, JSON
//! (`{"items": [...]}`, the server's items) for a script.

use serde_json::Value;

use crate::cli::{FailuresArgs, FlakyArgs};
use crate::commands::{Context, read_list};
use crate::error::{CliError, Exit};
use crate::output::{excerpt, table};

/// Flagged tests read at most; a project has far fewer.
const MAX_FLAKY: usize = 5_000;

pub async fn failures(ctx: &mut Context, args: &FailuresArgs) -> Result<Exit, CliError> {
    let since = chrono::Utc::now()
        - chrono::Duration::from_std(args.since).unwrap_or(chrono::Duration::MAX);
    let items = read_list(
        &ctx.client,
        &ctx.client.project_url(1, "/failures"),
        &[(
            "since",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )],
        usize::try_from(args.limit).unwrap_or(usize::MAX),
        "reading failures",
    )
    .await?;
    if args.json {
        print_json(ctx, items);
        return Ok(Exit::Success);
    }
    if items.is_empty() {
        ctx.out.line("No failures in that time.");
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            vec![
                text(&item["created_at"])
                    .chars()
                    .take(16)
                    .collect::<String>()
                    .replace('T', " "),
                text(&item["label"]),
                format!(
                    "{} {}",
                    text(&item["build"]["job_name"]),
                    text(&item["build"]["external_id"])
                ),
                test_name(&item["test"]),
                excerpt(&text(&item["message"]), 80),
            ]
        })
        .collect();
    for line in table(&["WHEN (UTC)", "LABEL", "BUILD", "TEST", "MESSAGE"], &rows) {
        ctx.out.line(&line);
    }
    Ok(Exit::Success)
}

pub async fn flaky(ctx: &mut Context, args: &FlakyArgs) -> Result<Exit, CliError> {
    let items = read_list(
        &ctx.client,
        &ctx.client.project_url(1, "/flaky-tests"),
        &[],
        MAX_FLAKY,
        "reading flaky tests",
    )
    .await?;
    if args.json {
        print_json(ctx, items);
        return Ok(Exit::Success);
    }
    if items.is_empty() {
        ctx.out.line("No flaky or broken tests.");
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            let rate = item["evidence"]["failure_rate"]
                .as_f64()
                .unwrap_or_default();
            vec![
                text(&item["state"]),
                format!("{:.0}%", rate * 100.0),
                item["evidence"]["transitions"].to_string(),
                if item["quarantined"].as_bool() == Some(true) {
                    "yes".to_owned()
                } else {
                    "no".to_owned()
                },
                test_name(&item["test"]),
            ]
        })
        .collect();
    for line in table(
        &["STATE", "FAILURE RATE", "FLIPS", "QUARANTINED", "TEST"],
        &rows,
    ) {
        ctx.out.line(&line);
    }
    Ok(Exit::Success)
}

fn print_json(ctx: &mut Context, items: Vec<Value>) {
    let document = serde_json::json!({ "items": items });
    ctx.out
        .line(&serde_json::to_string_pretty(&document).unwrap_or_default());
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// `suite › classname › name`, without the parts a test lacks; a class
/// named like its suite (Surefire) is named once.
fn test_name(test: &Value) -> String {
    let suite = text(&test["suite"]);
    let classname = text(&test["classname"]);
    let classname = if classname == suite {
        String::new()
    } else {
        classname
    };
    [suite, classname, text(&test["name"])]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" › ")
}
