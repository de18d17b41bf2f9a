//! The web pages section: the big project's dashboard, a build, a failure
//! group, the flaky tests and the settings, asked through the gateway
//! (which sends pages to the web service, which builds them from the
//! public API through the same gateway) with a signed-in session's
//! cookie, at a fixed rate; and what each page weighs with the assets it
//! loads.

use anyhow::{Context, bail};
use reqwest::header::HeaderMap;

use crate::open_loop::{self, FixedRate};

use super::analytics::BIG_PROJECT;
use super::*;

const PAGES_EMAIL: &str = "pages@example.com";

impl Ctx {
    pub(super) async fn pages_section(&mut self) -> anyhow::Result<PageResults> {
        self.member_of(PAGES_EMAIL, &[BIG_PROJECT.to_owned()])
            .await?;
        let cookie = self.sign_in_on_the_web(PAGES_EMAIL).await?;
        let (admin, _task) = seed::admin_client(&self.config.admin_url, &self.run_db).await?;
        // The latest seeded build with failures, and the group with the
        // most failures: the heaviest build and group pages.
        let row = admin
            .query_one(
                "SELECT (SELECT b.id FROM failure.builds b
                          WHERE b.project_id = p.id AND b.failures > 0 AND b.external_id LIKE 'run-%'
                          ORDER BY b.created_at DESC LIMIT 1),
                        (SELECT g.id FROM failure.failure_groups g
                          WHERE g.project_id = p.id ORDER BY g.occurrences DESC, g.id LIMIT 1)
                   FROM project.projects p WHERE p.slug = $1",
                &[&BIG_PROJECT],
            )
            .await?;
        let build: Uuid = row.try_get(0)?;
        let group: Uuid = row.try_get(1)?;
        let base = format!("/p/{BIG_PROJECT}");
        let pages = [
            ("dashboard", base.clone()),
            ("build", format!("{base}/builds/{build}")),
            ("group", format!("{base}/groups/{group}")),
            ("flaky", format!("{base}/flaky")),
            ("settings", format!("{base}/settings")),
        ];
        let headers = vec![("Cookie".to_owned(), cookie.clone())];
        let mut figures = Vec::new();
        for (name, path) in &pages {
            // Warm-up and weight: the page once, then each asset it names.
            let url = self.gateway_url(path)?;
            let response = self.http.get(&url).header("Cookie", &cookie).send().await?;
            let status = response.status();
            let header_bytes = headers_bytes(response.headers());
            let html = response.text().await?;
            if status != reqwest::StatusCode::OK {
                bail!("page {name} ({path}) answered {status}: {html}");
            }
            let mut assets = Vec::new();
            for asset in asset_paths(&html) {
                let response = self
                    .http
                    .get(self.gateway_url(&asset)?)
                    .header("Cookie", &cookie)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!("asset {asset} of {name} answered {}", response.status());
                }
                let header_bytes = headers_bytes(response.headers());
                let body = response.bytes().await?;
                assets.push(AssetWeight {
                    path: asset,
                    bytes: header_bytes + body.len() as u64,
                });
            }
            figures.push(PageRuns {
                name: (*name).to_owned(),
                path: path.clone(),
                runs: Vec::new(),
                html_bytes: header_bytes + html.len() as u64,
                assets,
            });
        }
        let rate = self.plan.page_rate;
        for run in 0..self.plan.runs {
            for (figure, (_, path)) in figures.iter_mut().zip(&pages) {
                let result = open_loop::run(
                    &self.http,
                    &FixedRate {
                        urls: vec![self.gateway_url(path)?],
                        headers: headers.clone(),
                        rate,
                        secs: self.plan.secs,
                    },
                )
                .await?;
                eprintln!(
                    "bench:   page {} run {run}: p50 {:.2} ms, p99 {:.2} ms",
                    figure.name, result.p50_ms, result.p99_ms
                );
                if result.success_rate < 1.0 {
                    // Kept and reported: failed requests miss the goal.
                    eprintln!(
                        "bench:   {}: {} answers were not 2xx, {:.1}% of requests failed",
                        figure.name,
                        result.non_2xx,
                        (1.0 - result.success_rate) * 100.0
                    );
                }
                let saturated = result.success_rate < 1.0;
                figure.runs.push(result);
                // A pause refills the project plan's request bucket (100
                // a second) between runs, and lets a backlog the run left
                // on the services drain before the next figure.
                let pause = if saturated { 10 } else { 1 };
                tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
            }
        }
        Ok(PageResults {
            project: BIG_PROJECT.to_owned(),
            rate,
            pages: figures,
            note: None,
            commit: None,
            measured_at: None,
        })
    }

    /// Signs in on the web dashboard's form as a browser does (the form's
    /// CSRF token and cookie, then the post): the session cookie.
    async fn sign_in_on_the_web(&self, email: &str) -> anyhow::Result<String> {
        let form = self.http.get(self.gateway_url("/sign-in")?).send().await?;
        let form_cookies = cookies(form.headers());
        let html = form.text().await?;
        let csrf = between(&html, "name=\"csrf\" value=\"", "\"")
            .context("no CSRF token on the sign-in page")?
            .to_owned();
        let body = format!(
            "csrf={}&email={}&password={}",
            form_encode(&csrf),
            form_encode(email),
            form_encode(BENCH_PASSWORD)
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let signed_in = client
            .post(self.gateway_url("/sign-in")?)
            .header("Cookie", form_cookies)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        let status = signed_in.status();
        let session = cookies(signed_in.headers());
        if status != reqwest::StatusCode::SEE_OTHER || !session.contains("faultline_session=") {
            bail!(
                "signing in on the web answered {status}: {}",
                signed_in.text().await?
            );
        }
        Ok(session)
    }
}

/// The `name=value` pairs a response sets, as a `Cookie` header.
fn cookies(headers: &HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .filter(|pair| pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Bytes of a response's header block as sent on HTTP/1.1 (status line
/// approximated).
fn headers_bytes(headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    (17 + fields + 2) as u64
}

/// The same-site assets a page loads: stylesheets, scripts and images
/// under `/static/`.
fn asset_paths(html: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            if let Some(end) = rest.find('"') {
                let path = &rest[..end];
                if path.starts_with("/static/") && !paths.iter().any(|p| p == path) {
                    paths.push(path.to_owned());
                }
            }
        }
    }
    paths
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_static_asset_once() {
        let html = r#"<link rel="stylesheet" href="/static/app.abc.css"><a href="/p/x">x</a>
            <script src="/static/app.def.js"></script><link href="/static/app.abc.css">"#;
        assert_eq!(
            asset_paths(html),
            vec!["/static/app.abc.css", "/static/app.def.js"]
        );
    }

    #[test]
    fn keeps_set_cookies_and_drops_cleared_ones() {
        let mut headers = HeaderMap::new();
        headers.append("set-cookie", "a=1; Path=/; HttpOnly".parse().unwrap());
        headers.append("set-cookie", "b=; Max-Age=0".parse().unwrap());
        headers.append("set-cookie", "c=3".parse().unwrap());
        assert_eq!(cookies(&headers), "a=1; c=3");
    }
}
