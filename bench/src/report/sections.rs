//! The report's sections, one function each.

use std::fmt::Write;

use crate::results::*;

use super::*;

/// Each target's median max throughput, its ratio to nginx's and every run.
fn max_throughput_table(out: &mut String, max: &[TargetRuns], nginx_max: Option<f64>) {
    let _ = writeln!(
        out,
        "| target | req/s (median) | ratio to nginx | runs |\n|---|---|---|---|"
    );
    for runs in max {
        let rps = runs.median_of(|r| r.requests_per_sec);
        let ratio = rps.zip(nginx_max).map(|(a, b)| a / b);
        let all: Vec<String> = runs.runs.iter().map(|r| fmt(r.requests_per_sec)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            runs.target,
            opt(rps),
            ratio.map_or("n/a".to_owned(), |r| format!("{r:.2}")),
            all.join(", ")
        );
    }
}

pub(super) fn gateway_section(out: &mut String, results: &BenchResults, charts: &str) {
    let _ = writeln!(out, "## 1. Gateway overhead\n");
    let Some(gateway) = &results.gateway else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let _ = writeln!(
        out,
        "The same backend route three ways: **direct** to the project service (with an internal context token, as the gateway would send), through **nginx** (plain reverse proxy, upstream keepalive, 2 workers), and through **our gateway** with JWT verification, project resolution, the membership lookup (RBAC) and rate limiting on. Route: {}. Logging: {}.\n",
        gateway.endpoint, gateway.nginx_logging
    );
    let nginx_max = med(target(&gateway.max, "nginx"), |r| r.requests_per_sec);
    let _ = writeln!(out, "### Max throughput (unthrottled, fixed connections)\n");
    max_throughput_table(out, &gateway.max, nginx_max);
    let _ = writeln!(
        out,
        "\n### Latency at a fixed rate (share of nginx's max)\n"
    );
    let _ = writeln!(
        out,
        "| load | rate (req/s) | target | p50 ms | p99 ms | p99 over nginx ms | non-2xx |\n|---|---|---|---|---|---|---|"
    );
    for level in &gateway.latency {
        let nginx_p99 = med(target(&level.targets, "nginx"), |r| r.p99_ms);
        for runs in &level.targets {
            let p99 = runs.median_of(|r| r.p99_ms);
            let over = if runs.target == "nginx" {
                "-".to_owned()
            } else {
                opt(p99.zip(nginx_p99).map(|(a, b)| a - b))
            };
            let errors: u64 = runs.runs.iter().map(|r| r.non_2xx).sum();
            let _ = writeln!(
                out,
                "| {}% | {} | {} | {} | {} | {} | {} |",
                level.load_percent,
                fmt(level.rate),
                runs.target,
                opt(runs.median_of(|r| r.p50_ms)),
                opt(p99),
                over,
                errors
            );
        }
    }
    let gateway_ratio = med(target(&gateway.max, "gateway"), |r| r.requests_per_sec)
        .zip(nginx_max)
        .map(|(a, b)| a / b * 100.0);
    let added_p99 = gateway
        .latency
        .iter()
        .find(|l| l.load_percent == 50)
        .and_then(|l| {
            med(target(&l.targets, "gateway"), |r| r.p99_ms)
                .zip(med(target(&l.targets, "nginx"), |r| r.p99_ms))
        })
        .map(|(g, n)| g - n);
    let _ = writeln!(out, "\n| goal | measured | verdict |\n|---|---|---|");
    goal_row(
        out,
        "gateway max throughput at least 75% of nginx's",
        gateway_ratio.map_or("n/a".to_owned(), |r| format!("{r:.0}%")),
        verdict(gateway_ratio, Bound::AtLeast, 75.0, " points"),
    );
    goal_row(
        out,
        "p99 added over nginx at 50% load at most 1 ms",
        added_p99.map_or("n/a".to_owned(), |v| format!("{} ms", fmt(v))),
        verdict(added_p99, Bound::AtMost, 1.0, " ms"),
    );
    let _ = writeln!(
        out,
        "\n![max throughput]({charts}/gateway-throughput.svg)\n![latency]({charts}/gateway-latency.svg)\n"
    );
}

pub(super) fn static_gateway_section(out: &mut String, results: &BenchResults, charts: &str) {
    let _ = writeln!(out, "## 1b. The gateway's own cost (static upstream)\n");
    let Some(figures) = &results.static_gateway else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    if let (Some(commit), Some(at)) = (&figures.commit, &figures.measured_at) {
        let _ = writeln!(
            out,
            "Measured on its own (`faultline-bench static-gateway`) at {at}, commit `{commit}`.\n"
        );
    }
    let _ = writeln!(
        out,
        "The upstream answers every request from memory (nginx, `return 200` with a {}-byte JSON body), so the proxy in front of it is what is measured. **direct**: the upstream itself; **nginx**: a reverse proxy to it (2 workers, upstream keepalive 64, access log to a file); **gateway_user**: the gateway on a user route (JWT verification, revocation check, rate limit, routing, streaming proxy); **gateway_project**: on a project route (the same plus the project access check, cached). The same upstream stands in for the auth service (its real JWKS, an empty revocation feed) and the project service (an empty access-change feed, the project's access), and the token is a real one. oha with {} connections; the targets take turns in each round; medians over the rounds, every run listed.\n",
        figures.body_bytes, figures.connections
    );
    let _ = writeln!(out, "| target | request |\n|---|---|");
    for (target, request) in &figures.requests {
        let _ = writeln!(out, "| {target} | `{request}` |");
    }
    let nginx_max = med(target(&figures.max, "nginx"), |r| r.requests_per_sec);
    let _ = writeln!(out, "\n### Max throughput\n");
    max_throughput_table(out, &figures.max, nginx_max);
    let percentiles = |runs: &TargetRuns| {
        [
            runs.median_of(|r| r.p50_ms),
            runs.median_of(|r| r.p90_ms.unwrap_or(f64::NAN)),
            runs.median_of(|r| r.p99_ms),
            runs.median_of(|r| r.p999_ms.unwrap_or(f64::NAN)),
        ]
        .map(opt)
        .join(" | ")
    };
    let _ = writeln!(
        out,
        "\n### Latency at half of each target's own max (fixed rate, latency-corrected)\n\n| target | rate (req/s) | p50 ms | p90 ms | p99 ms | p99.9 ms | p99 of each run | non-2xx |\n|---|---|---|---|---|---|---|---|"
    );
    for own in &figures.own_half {
        let each: Vec<String> = own.runs.runs.iter().map(|r| fmt(r.p99_ms)).collect();
        let errors: u64 = own.runs.runs.iter().map(|r| r.non_2xx).sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {errors} |",
            own.runs.target,
            fmt(own.rate),
            percentiles(&own.runs),
            each.join(", ")
        );
    }
    let common = &figures.common;
    let nginx_p99 = med(target(&common.targets, "nginx"), |r| r.p99_ms);
    let _ = writeln!(
        out,
        "\n### Latency at one rate every target holds ({} req/s, half the slowest target's max)\n\n| target | p50 ms | p90 ms | p99 ms | p99.9 ms | p99 over nginx ms | p99 of each run | non-2xx |\n|---|---|---|---|---|---|---|---|",
        fmt(common.rate)
    );
    for runs in &common.targets {
        let over = if runs.target == "nginx" {
            "-".to_owned()
        } else {
            opt(runs
                .median_of(|r| r.p99_ms)
                .zip(nginx_p99)
                .map(|(a, b)| a - b))
        };
        let each: Vec<String> = runs.runs.iter().map(|r| fmt(r.p99_ms)).collect();
        let errors: u64 = runs.runs.iter().map(|r| r.non_2xx).sum();
        let _ = writeln!(
            out,
            "| {} | {} | {over} | {} | {errors} |",
            runs.target,
            percentiles(runs),
            each.join(", ")
        );
    }
    let _ = writeln!(out, "\n| goal | measured | verdict |\n|---|---|---|");
    for route in ["gateway_user", "gateway_project"] {
        let ratio = med(target(&figures.max, route), |r| r.requests_per_sec)
            .zip(nginx_max)
            .map(|(a, b)| a / b * 100.0);
        goal_row(
            out,
            &format!("{route}: max throughput at least 75% of nginx's (aim: 90%)"),
            ratio.map_or("n/a".to_owned(), |r| format!("{r:.0}%")),
            verdict(ratio, Bound::AtLeast, 75.0, " points"),
        );
    }
    for route in ["gateway_user", "gateway_project"] {
        let added = med(target(&common.targets, route), |r| r.p99_ms)
            .zip(nginx_p99)
            .map(|(a, b)| a - b);
        goal_row(
            out,
            &format!("{route}: p99 added over nginx at the common rate at most 1 ms"),
            added.map_or("n/a".to_owned(), |v| format!("{} ms", fmt(v))),
            verdict(added, Bound::AtMost, 1.0, " ms"),
        );
    }
    let _ = writeln!(out);
    profile_part(out, figures.profile.as_ref(), charts);
}

/// Where the gateway's CPU time went: stages by inclusive share, the
/// functions with the most self time, and the flamegraph.
fn profile_part(out: &mut String, profile: Option<&CpuProfile>, charts: &str) {
    let _ = writeln!(
        out,
        "### Where the gateway's time goes
"
    );
    let Some(profile) = profile else {
        let _ = writeln!(out, "Not measured (no CPU profile in the results).\n");
        return;
    };
    let folded = flamegraph::Folded::from(profile.stacks.clone());
    let _ = writeln!(
        out,
        "`perf record` at {} Hz with DWARF call graphs on the gateway during one more unthrottled `{}` run ({} s sampled, {} samples over all its threads; not one of the runs above). Inclusive share of the samples by stage (a sample counts for every stage on its stack):\n\n| stage | frames matched | share |\n|---|---|---|",
        profile.frequency_hz,
        profile.target,
        profile.secs,
        count(folded.samples)
    );
    for (stage, needle) in PROFILE_STAGES {
        let share = flamegraph::share_under(&folded, needle) * 100.0;
        let _ = writeln!(out, "| {stage} | `{needle}` | {share:.1}% |");
    }
    let _ = writeln!(
        out,
        "\nThe functions with the most self time (on top of the stack):\n\n| function | self share |\n|---|---|"
    );
    for (function, share) in flamegraph::top_self(&folded, 15) {
        let function = function.replace('|', "\\|");
        let _ = writeln!(out, "| `{function}` | {:.1}% |", share * 100.0);
    }
    let _ = writeln!(
        out,
        "\n![flamegraph of the gateway]({charts}/{GATEWAY_FLAMEGRAPH})\n"
    );
}

pub(super) fn ingestion_section(out: &mut String, results: &BenchResults, charts: &str) {
    let _ = writeln!(out, "## 2. Ingestion\n");
    let Some(ingestion) = &results.ingestion else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    if let (Some(commit), Some(at)) = (&ingestion.commit, &ingestion.measured_at) {
        let _ = writeln!(
            out,
            "Measured on its own (`faultline-bench ingestion`) at {at}, commit `{commit}`.\n"
        );
    }
    let _ = writeln!(
        out,
        "Generated JUnit XML (suites of classes, one case in twenty failing with a 10-frame stack trace, a few skipped) uploaded through the gateway with a project API key, as CI does: create the build, then `POST .../builds/{{build}}/results`. The time is that upload's request, from sending the body to the answer: parse, signatures and grouping, classification, the flaky-test monitors, store, totals (analysis is done within the upload, so a build read back after it shows its groups and labels). Before each timed upload the suite waits until the events of the uploads before it are delivered (the failure service's two outboxes hold none undelivered), so no upload is timed against the delivery and rollups of the previous one; the sustained run does not wait, and includes that work.\n"
    );
    let _ = writeln!(
        out,
        "| report | size | seconds (median) | results/s | runs |\n|---|---|---|---|---|"
    );
    for single in &ingestion.single {
        let secs = median(&single.secs);
        let all: Vec<String> = single.secs.iter().map(|s| fmt(*s)).collect();
        let _ = writeln!(
            out,
            "| {} testcases, {} failures | {} MB | {} | {} | {} |",
            count(single.testcases),
            count(single.failures),
            fmt(single.report_bytes as f64 / 1e6),
            opt(secs),
            opt(secs.map(|s| single.testcases as f64 / s)),
            all.join(", ")
        );
    }
    let sustained_rate = ingestion
        .sustained
        .as_ref()
        .map(|s| s.results as f64 / s.secs);
    if let Some(s) = &ingestion.sustained {
        let _ = writeln!(
            out,
            "\nSustained: {} uploaders (one project and API key each) sent the {}-case report back to back for {} s: {} uploads, {} results, **{} results/s**.",
            s.uploaders,
            count(s.report_testcases),
            fmt(s.secs),
            count(s.uploads),
            count(s.results),
            opt(sustained_rate)
        );
    }
    let _ = writeln!(
        out,
        "\nFailure-service peak RSS during these uploads: {} MB.",
        fmt(ingestion.failure_peak_rss_mb)
    );
    if let Some(large) = &ingestion.large {
        let _ = writeln!(
            out,
            "\nLarge report: {} MB ({} testcases with 1 KB of system-out each), answered {} in {} s; failure-service peak RSS while ingesting it: **{} MB**.",
            fmt(large.report_bytes as f64 / 1e6),
            count(large.testcases),
            large.status,
            fmt(large.secs),
            fmt(large.failure_peak_rss_mb)
        );
    }
    let single_secs = |cases: u64| {
        ingestion
            .single
            .iter()
            .find(|s| s.testcases == cases)
            .and_then(|s| median(&s.secs))
    };
    let _ = writeln!(out, "\n| goal | measured | verdict |\n|---|---|---|");
    let ten = single_secs(10_000);
    goal_row(
        out,
        "10,000 testcases (500 failures) end to end with analysis under 1 s",
        ten.map_or("n/a".to_owned(), |s| format!("{} s", fmt(s))),
        verdict(ten, Bound::AtMost, 1.0, " s"),
    );
    let hundred = single_secs(100_000);
    goal_row(
        out,
        "100,000 testcases (5,000 failures) end to end with analysis under 3 s",
        hundred.map_or("n/a".to_owned(), |s| format!("{} s", fmt(s))),
        verdict(hundred, Bound::AtMost, 3.0, " s"),
    );
    goal_row(
        out,
        "sustained at least 60,000 results/s (4 uploaders)",
        sustained_rate.map_or("n/a".to_owned(), |r| format!("{} /s", fmt(r))),
        verdict(sustained_rate, Bound::AtLeast, 60_000.0, " /s"),
    );
    let large_rss = ingestion
        .large
        .as_ref()
        .filter(|l| l.report_bytes >= 200 << 20)
        .map(|l| l.failure_peak_rss_mb);
    goal_row(
        out,
        "failure-service RSS under 200 MB while ingesting a ~256 MB report",
        large_rss.map_or("n/a (no report of that size in this run)".to_owned(), |r| {
            format!("{} MB", fmt(r))
        }),
        verdict(large_rss, Bound::AtMost, 200.0, " MB"),
    );
    let _ = writeln!(out, "\n![ingestion]({charts}/ingestion.svg)\n");
}

pub(super) const QUERY_GOALS: [(&str, &str, Option<f64>); 5] = [
    (
        "failures_list",
        "the failures list, first page of 50",
        Some(20.0),
    ),
    (
        "groups_list",
        "the failure groups list (v2), first page of 50",
        Some(20.0),
    ),
    ("build", "one build with totals", None),
    ("test_history", "a test's history (last 50 results)", None),
    (
        "access_lookup",
        "the project service's internal access lookup (gateway's membership check)",
        Some(2.0),
    ),
];

pub(super) fn query_section(out: &mut String, results: &BenchResults, charts: &str) {
    let _ = writeln!(out, "## 3. Queries on the seeded dataset\n");
    let Some(queries) = &results.queries else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    if let (Some(commit), Some(at)) = (&queries.commit, &queries.measured_at) {
        let _ = writeln!(
            out,
            "Measured on its own with section 4 (`faultline-bench queries`) at {at}, commit `{commit}`.\n"
        );
    }
    let _ = writeln!(
        out,
        "Each endpoint called directly on its service (with the context token the gateway would send) at a fixed {} req/s with latency correction; a warm-up run is discarded. The failure-service queries read project bench-000; the access lookup picks one of the seeded projects at random per request.\n",
        fmt(queries.rate)
    );
    let _ = writeln!(
        out,
        "| query | endpoint | p50 ms | p99 ms | goal (p99) | verdict |\n|---|---|---|---|---|---|"
    );
    for (name, label, goal) in QUERY_GOALS {
        let Some(runs) = queries.queries.iter().find(|q| q.name == name) else {
            continue;
        };
        let p50 = median(&runs.runs.iter().map(|r| r.p50_ms).collect::<Vec<_>>());
        let p99 = median(&runs.runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>());
        let (goal_text, verdict_text) = match goal {
            Some(goal) => (
                format!("under {} ms", fmt(goal)),
                verdict(p99, Bound::AtMost, goal, " ms"),
            ),
            None => ("none stated".to_owned(), "-".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {label} | `{}` | {} | {} | {goal_text} | {verdict_text} |",
            runs.endpoint,
            opt(p50),
            opt(p99)
        );
    }
    let access_goal = QUERY_GOALS
        .iter()
        .find_map(|(name, _, goal)| (*name == "access_lookup").then_some(*goal))
        .flatten();
    if let (Some(histogram), Some(goal)) = (&queries.access_in_service, access_goal) {
        access_in_service(out, histogram, goal);
    }
    let _ = writeln!(out, "\n![queries]({charts}/queries.svg)\n");
}

/// The access lookup as the project service timed it, beside what the
/// client saw: what of the p99 is the handler's and what is around it.
fn access_in_service(out: &mut String, histogram: &ServiceHistogram, goal_ms: f64) {
    let _ = writeln!(
        out,
        "\nThe access lookup inside the project service: its own request histogram (`http_server_request_duration_seconds`, from the request read to the answer's head written) over the measured runs, {} requests. A p99 under {goal} ms needs at most 1% of them over {goal} ms; time in sockets, run queues and the load generator is not in it.\n",
        count(histogram.requests),
        goal = fmt(goal_ms)
    );
    let _ = writeln!(out, "| longer than | share of requests |\n|---|---|");
    for bucket in histogram.buckets.iter().filter(|b| b.le_ms <= 8.0) {
        let share = histogram.share_over(bucket.le_ms).unwrap_or(0.0);
        let _ = writeln!(out, "| {} ms | {:.2}% |", fmt(bucket.le_ms), share * 100.0);
    }
}

pub(super) fn rls_section(out: &mut String, results: &BenchResults) {
    let _ = writeln!(out, "## 4. Row Level Security cost\n");
    let Some(rls) = &results.rls else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let without = median(&rls.without_rls_ms);
    let with = median(&rls.with_rls_ms);
    let slower = without.zip(with).map(|(a, b)| (b / a - 1.0) * 100.0);
    let _ = writeln!(
        out,
        "{}: executed {} times each, alternating, as a superuser (RLS bypassed) and as the runtime role `failure_app` (RLS forced), both in a transaction with `app.project_id` and `app.user_id` set as tenant-core sets them; the statement's own time is measured from the benchmark's database client.\n",
        rls.query, rls.executions
    );
    let _ = writeln!(
        out,
        "| role | median ms | p99 ms |\n|---|---|---|\n| superuser, no RLS | {} | {} |\n| failure_app, RLS | {} | {} |\n",
        opt(without),
        opt(percentile(&rls.without_rls_ms, 99.0)),
        opt(with),
        opt(percentile(&rls.with_rls_ms, 99.0))
    );
    let _ = writeln!(out, "| goal | measured | verdict |\n|---|---|---|");
    goal_row(
        out,
        "with RLS under 3% slower (median)",
        slower.map_or("n/a".to_owned(), |s| format!("{s:+.1}%")),
        verdict(slower, Bound::AtMost, 3.0, " points"),
    );
    let _ = writeln!(out);
}

pub(super) fn resource_section(out: &mut String, results: &BenchResults, charts: &str) {
    let _ = writeln!(out, "## 5. Resource use\n");
    let Some(resources) = &results.resources else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let _ = writeln!(
        out,
        "RSS from `/proc/<pid>/status`: idle is `VmRSS` 2 s after every service was ready; peak is `VmHWM` over the suite (the large-report upload excluded; it has its own figure above). Start to ready: from spawning the release binary to its admin `/readyz` answering 200, services started one after the other against the migrated database.\n"
    );
    let _ = writeln!(
        out,
        "| service | start to ready ms | idle RSS MB | peak RSS MB |\n|---|---|---|---|"
    );
    for service in &resources.services {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            service.name,
            fmt(service.start_to_ready_ms),
            fmt(service.idle_rss_mb),
            fmt(service.peak_rss_mb)
        );
    }
    let _ = writeln!(out, "\n![RSS]({charts}/rss.svg)\n");
}

pub(super) fn cache_section(out: &mut String, results: &BenchResults) {
    let _ = writeln!(out, "## 6. Gateway caches during the gateway run\n");
    let Some(caches) = &results.caches else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let rate = |hits: u64, misses: u64| {
        let total = hits + misses;
        if total == 0 {
            "n/a".to_owned()
        } else {
            format!("{:.2}%", hits as f64 / total as f64 * 100.0)
        }
    };
    let _ = writeln!(
        out,
        "From the gateway's `/metrics` before and after section 1.\n\n| cache | hits | misses | hit rate |\n|---|---|---|---|\n| verified tokens (`gateway_token_cache_*`) | {} | {} | {} |\n| membership/access (`gateway_access_cache_*`) | {} | {} | {} |\n",
        count(caches.token_hits),
        count(caches.token_misses),
        rate(caches.token_hits, caches.token_misses),
        count(caches.access_hits),
        count(caches.access_misses),
        rate(caches.access_hits, caches.access_misses)
    );
}

pub(super) fn grouping_section(out: &mut String, results: &BenchResults) {
    let _ = writeln!(out, "## 7. Failure grouping\n");
    let Some(grouping) = &results.grouping else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let _ = writeln!(
        out,
        "On the CPU alone (no services): quality over every pair of the labelled set the failure service's quality test uses ({} failures of {} problems in every language the frame parser reads, {} pairs), and signatures per second on one thread over {} varied failures ({} MB of messages and traces; {} distinct signatures). An upload computes one signature per failure on its parser thread.\n",
        count(grouping.labelled_failures),
        grouping.problems,
        count(grouping.pairs),
        count(grouping.throughput_failures),
        fmt(grouping.throughput_input_bytes as f64 / 1e6),
        count(grouping.distinct_signatures),
    );
    if let (Some(commit), Some(at)) = (&grouping.commit, &grouping.measured_at) {
        let _ = writeln!(
            out,
            "Measured on its own (`faultline-bench grouping`) at {at}, commit `{commit}`, after the run above.\n"
        );
    }
    let _ = writeln!(out, "| goal | measured | verdict |\n|---|---|---|");
    goal_row(
        out,
        "pairwise precision at least 0.95",
        format!(
            "{:.3} ({} pairs together that are different problems)",
            grouping.precision,
            count(grouping.together_but_different)
        ),
        verdict(Some(grouping.precision), Bound::AtLeast, 0.95, ""),
    );
    goal_row(
        out,
        "pairwise recall at least 0.95",
        format!(
            "{:.3} ({} pairs of one problem kept apart)",
            grouping.recall,
            count(grouping.apart_but_same)
        ),
        verdict(Some(grouping.recall), Bound::AtLeast, 0.95, ""),
    );
    let runs: Vec<String> = grouping.secs.iter().map(|s| format!("{s:.2} s")).collect();
    let _ = writeln!(
        out,
        "\nThroughput: **{} failures/s** on one thread (median; runs: {}).\n",
        opt(grouping.failures_per_sec()),
        runs.join(", ")
    );
}
