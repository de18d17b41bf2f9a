//! `faultline gate`: asks the build's quality gate until it is no longer
//! pending (or `--wait` runs out), prints each rule's result, and exits
//! 0 on pass, 1 on fail, 2 on error or timeout.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::cli::GateArgs;
use crate::client::Body;
use crate::commands::{BuildIdentity, Context};
use crate::error::{CliError, Exit};

/// The gate's answer (`GET .../builds/{build}/quality-gate`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GateAnswer {
    pub build_id: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub evaluated_at: Option<String>,
    #[serde(default)]
    pub baseline_build_id: Option<String>,
    #[serde(default)]
    pub rules: Vec<RuleResult>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RuleResult {
    #[serde(default)]
    pub rule_id: Option<String>,
    pub kind: String,
    pub status: String,
    #[serde(default)]
    pub threshold: serde_json::Value,
    #[serde(default)]
    pub actual: serde_json::Value,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub failures: Vec<RuleFailure>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RuleFailure {
    pub test: String,
    #[serde(default)]
    pub failure_id: Option<String>,
    #[serde(default)]
    pub group_id: Option<String>,
}

/// Failures listed under a failed rule; the rest are counted.
const LISTED_FAILURES: usize = 10;

pub async fn run(ctx: &mut Context, args: &GateArgs) -> Result<Exit, CliError> {
    let build_id = match &args.build_id {
        Some(id) => id.trim().to_owned(),
        None => {
            let identity = BuildIdentity::resolve(&args.build, ctx.ci.as_ref())?;
            super::find_build(&ctx.client, &identity).await?.id
        }
    };
    let url = ctx
        .client
        .project_url(1, &format!("/builds/{build_id}/quality-gate"));
    let started = Instant::now();
    let mut last_reason = None;
    let answer = loop {
        let answer = ask(ctx, &url, &build_id).await?;
        if answer.status != "pending" {
            break answer;
        }
        let reason = answer
            .reason
            .clone()
            .unwrap_or_else(|| "not evaluated yet".to_owned());
        if started.elapsed() >= args.wait {
            return Err(CliError::Timeout(format!(
                "the quality gate of build {build_id} is still pending after {}s: {reason}",
                args.wait.as_secs()
            )));
        }
        if last_reason.as_ref() != Some(&reason) {
            ctx.out.note(&format!("quality gate pending: {reason}"));
            last_reason = Some(reason);
        }
        let left = args.wait.saturating_sub(started.elapsed());
        tokio::time::sleep(args.interval.min(left)).await;
    };
    print_answer(ctx, &answer, args.json);
    match answer.status.as_str() {
        "passed" => Ok(Exit::Success),
        "failed" => Ok(Exit::GateFailed),
        other => Err(CliError::Server(format!(
            "the quality gate answered an unknown status `{other}`"
        ))),
    }
}

async fn ask(ctx: &Context, url: &str, build_id: &str) -> Result<GateAnswer, CliError> {
    let what = "asking the quality gate";
    let response = ctx.client.send(Method::GET, url, &Body::Empty, &[]).await?;
    if response.status == StatusCode::NOT_FOUND {
        let problem = response.problem();
        return Err(match problem.code.as_deref() {
            Some("route.not_found") => CliError::Server(format!(
                "{what}: the server at {} has no quality gate (route.not_found)",
                ctx.client.connection.url
            )),
            Some("build.not_found") => CliError::Usage(format!(
                "{what}: no build {build_id} in project {} (build.not_found)",
                ctx.client.connection.project
            )),
            _ => ctx.client.refusal(&response, what),
        });
    }
    if !response.status.is_success() {
        return Err(ctx.client.refusal(&response, what));
    }
    response.json(what)
}

fn print_answer(ctx: &mut Context, answer: &GateAnswer, as_json: bool) {
    if as_json {
        let text = serde_json::to_string_pretty(answer).unwrap_or_default();
        ctx.out.line(&text);
        return;
    }
    ctx.out.line(&format!(
        "Quality gate {} for build {} ({} rules)",
        answer.status,
        answer.build_id,
        answer.rules.len()
    ));
    for rule in &answer.rules {
        let mark = if rule.status == "passed" {
            "PASS"
        } else {
            "FAIL"
        };
        ctx.out
            .line(&format!("  {mark}  {:<18} {}", rule.kind, rule.summary));
        for failure in rule.failures.iter().take(LISTED_FAILURES) {
            ctx.out.line(&format!("          {}", failure.test));
        }
        if rule.failures.len() > LISTED_FAILURES {
            ctx.out.line(&format!(
                "          ... and {} more",
                rule.failures.len() - LISTED_FAILURES
            ));
        }
    }
}
