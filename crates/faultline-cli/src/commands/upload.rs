//! `faultline upload`: find the reports, create (or find) the build, send
//! the reports in as few requests as the size cap allows, finish the
//! build, and say what it holds.

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::batch::{self, BatchBody, BatchLimits};
use crate::cli::UploadArgs;
use crate::client::Body;
use crate::commands::{Build, BuildIdentity, Context, Totals, Verdict};
use crate::discovery::{self, ReportKind};
use crate::error::{CliError, Exit};
use crate::output::count;

/// What one upload request counted (the server's answer).
#[derive(Debug, Default, Deserialize)]
struct UploadCounts {
    #[serde(default)]
    files: u64,
    #[serde(default)]
    warnings: Vec<String>,
}

/// What `upload` prints, as JSON with `--json`.
#[derive(Debug, Serialize)]
pub struct UploadSummary {
    pub build_id: String,
    pub job: String,
    pub external_id: String,
    pub status: String,
    pub files: u64,
    pub requests: usize,
    pub totals: Totals,
    pub verdict: Verdict,
    /// Failure groups first seen in this build; `None` when they could
    /// not be read.
    pub new_groups: Option<usize>,
    pub pull_request: Option<String>,
    pub links: Links,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Links {
    pub build: String,
    pub failures: String,
    pub failure_groups: String,
}

pub async fn run(ctx: &mut Context, args: &UploadArgs) -> Result<Exit, CliError> {
    let reports = discovery::find_reports(&args.reports, &ctx.cwd)?;
    let limits = BatchLimits {
        max_bytes: args.max_batch_bytes,
        max_files: usize::try_from(args.max_batch_files).unwrap_or(usize::MAX),
    };
    let batches = batch::plan_batches(&reports, limits)?;
    let identity = BuildIdentity::resolve(&args.build, ctx.ci.as_ref())?;
    let build = create_build(ctx, args, &identity).await?;
    ctx.out.note(&format!(
        "build {} (job {}, {}): {} in {}",
        build.external_id,
        build.job_name,
        build.id,
        count(reports.len() as u64, "report file"),
        count(batches.len() as u64, "request")
    ));

    let url = ctx
        .client
        .project_url(1, &format!("/builds/{}/results", build.id));
    let mut files = 0;
    let mut warnings = Vec::new();
    for (index, batch) in batches.iter().enumerate() {
        let body = batch.body()?;
        let key = batch::idempotency_key(&build.id, &body);
        let request = Body::Bytes {
            content_type: body.content_type,
            bytes: body.bytes.clone(),
        };
        let mut headers = vec![("idempotency-key", key.as_str())];
        if let Some(encoding) = body.content_encoding {
            headers.push(("content-encoding", encoding));
        }
        let response = ctx
            .client
            .send(Method::POST, &url, &request, &headers)
            .await?;
        if !response.status.is_success() {
            return Err(refused(ctx, &response, batch, &body));
        }
        let counts: UploadCounts = response.json("uploading reports")?;
        files += counts.files;
        warnings.extend(counts.warnings);
        ctx.out.progress(
            index + 1,
            batches.len(),
            &format!("requests ({})", count(batch.files.len() as u64, "file")),
        );
    }

    let build = if args.no_finish || build.status != "running" {
        read_build(ctx, &build.id).await?
    } else {
        finish_build(ctx, &build.id).await?
    };
    let new_groups = count_new_groups(ctx, &build).await;
    let summary = UploadSummary {
        links: Links {
            build: ctx.client.project_url(1, &format!("/builds/{}", build.id)),
            failures: ctx
                .client
                .project_url(1, &format!("/failures?build={}", build.id)),
            failure_groups: ctx.client.project_url(2, "/failures"),
        },
        build_id: build.id,
        job: build.job_name,
        external_id: build.external_id,
        status: build.status,
        files,
        requests: batches.len(),
        totals: build.totals,
        verdict: build.verdict,
        new_groups,
        pull_request: ctx.ci.as_ref().and_then(|ci| ci.pull_request.clone()),
        warnings,
    };
    print_summary(ctx, &summary, args.json);
    Ok(Exit::Success)
}

async fn create_build(
    ctx: &Context,
    args: &UploadArgs,
    identity: &BuildIdentity,
) -> Result<Build, CliError> {
    let ci = ctx.ci.as_ref();
    let mut body = json!({
        "job_name": identity.job,
        "external_id": identity.external_id,
    });
    let fields = [
        (
            "branch",
            args.branch
                .clone()
                .or_else(|| ci.and_then(|ci| ci.branch.clone())),
        ),
        (
            "commit_sha",
            args.commit
                .clone()
                .or_else(|| ci.and_then(|ci| ci.commit.clone())),
        ),
        (
            "url",
            args.build_url
                .clone()
                .or_else(|| ci.and_then(|ci| ci.url.clone())),
        ),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    if let Some(number) = args.number.or_else(|| ci.and_then(|ci| ci.number)) {
        body["number"] = json!(number);
    }
    let response = ctx
        .client
        .call(
            Method::POST,
            &ctx.client.project_url(1, "/builds"),
            &Body::Json(body),
            &[],
            "creating the build",
        )
        .await?;
    response.json("creating the build")
}

async fn read_build(ctx: &Context, id: &str) -> Result<Build, CliError> {
    ctx.client
        .call(
            Method::GET,
            &ctx.client.project_url(1, &format!("/builds/{id}")),
            &Body::Empty,
            &[],
            "reading the build",
        )
        .await?
        .json("reading the build")
}

/// Marks the build passed or failed as its verdict says (quarantined
/// tests' failures do not fail it).
async fn finish_build(ctx: &Context, id: &str) -> Result<Build, CliError> {
    let build = read_build(ctx, id).await?;
    let status = if build.verdict.outcome == "failed" {
        "failed"
    } else {
        "passed"
    };
    ctx.client
        .call(
            Method::PATCH,
            &ctx.client.project_url(1, &format!("/builds/{id}")),
            &Body::Json(json!({ "status": status })),
            &[],
            "finishing the build",
        )
        .await?
        .json("finishing the build")
}

/// A refused batch as one line naming the file: the server starts a
/// refusal inside an archive with the file's name in backquotes.
fn refused(
    ctx: &Context,
    response: &crate::client::ApiResponse,
    batch: &batch::Batch,
    body: &BatchBody,
) -> CliError {
    let problem = response.problem();
    let content_refused = matches!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE
    ) && problem.code.as_deref() != Some("idempotency.key_reused");
    if !content_refused {
        return ctx.client.refusal(response, "uploading reports");
    }
    let detail = problem.detail.clone().unwrap_or_default();
    let code = problem.code.clone().unwrap_or_default();
    let named = detail
        .strip_prefix('`')
        .and_then(|rest| rest.split_once('`'))
        .filter(|(name, _)| batch.files.iter().any(|file| file.name == *name));
    let (file, reason) = match (named, batch.kind) {
        (Some((name, rest)), _) => (
            name.to_owned(),
            rest.trim_start_matches([':', ' ']).to_owned(),
        ),
        (None, ReportKind::JsonBatch) => (
            batch
                .files
                .first()
                .map(|file| file.name.clone())
                .unwrap_or_default(),
            detail,
        ),
        (None, ReportKind::JunitXml) => (
            format!(
                "archive of {} files ({} bytes)",
                batch.files.len(),
                body.bytes.len()
            ),
            detail,
        ),
    };
    CliError::ReportRefused {
        file,
        reason: format!("{reason} ({code})"),
    }
}

/// Groups first seen since the build was created: listed by last seen
/// since then, kept when first seen since then too.
async fn count_new_groups(ctx: &Context, build: &Build) -> Option<usize> {
    let since = build
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let groups = super::read_list(
        &ctx.client,
        &ctx.client.project_url(2, "/failures"),
        &[("since", since)],
        2_000,
        "reading failure groups",
    )
    .await
    .ok()?;
    Some(
        groups
            .iter()
            .filter_map(|group| group["first_seen_at"].as_str())
            .filter_map(|first| chrono::DateTime::parse_from_rfc3339(first).ok())
            .filter(|first| *first >= build.created_at)
            .count(),
    )
}

fn print_summary(ctx: &mut Context, summary: &UploadSummary, as_json: bool) {
    if as_json {
        let text = serde_json::to_string_pretty(summary).unwrap_or_default();
        ctx.out.line(&text);
        return;
    }
    let t = &summary.totals;
    let new_groups = summary
        .new_groups
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    let lines = [
        format!(
            "Build {} (job {}) {}: {} in {}",
            summary.external_id,
            summary.job,
            summary.status,
            count(summary.files, "file"),
            count(summary.requests as u64, "request")
        ),
        format!(
            "  tests {}  passed {}  failures {}  errors {}  skipped {}  flaky {}",
            t.tests, t.passed, t.failures, t.errors, t.skipped, t.flaky
        ),
        format!(
            "  new failure groups {}  quarantined failures {}  verdict {}",
            new_groups, summary.verdict.quarantined_failures, summary.verdict.outcome
        ),
        format!("  build id  {}", summary.build_id),
        format!("  build     {}", summary.links.build),
        format!("  failures  {}", summary.links.failures),
        format!("  groups    {}", summary.links.failure_groups),
    ];
    for line in lines {
        ctx.out.line(&line);
    }
    if let Some(pull_request) = &summary.pull_request {
        ctx.out.line(&format!("  pull request {pull_request}"));
    }
    for warning in &summary.warnings {
        ctx.out.note(&format!("warning: {warning}"));
    }
}
