//! Steady load through the gateway while a fault is on, and the record of
//! every answer it got.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::Reply;

use crate::isolation::FullPlatform;

/// What a request that got no answer is recorded with.
pub const NO_ANSWER: StatusCode = match StatusCode::from_u16(599) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_GATEWAY,
};

/// One request of the load and its answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub what: String,
    pub sent: Instant,
    pub took: Duration,
    pub status: StatusCode,
    pub retry_after: bool,
    pub body: String,
}

/// A build the uploader made, and whether its results were acknowledged.
#[derive(Debug, Clone)]
pub struct Upload {
    pub build: String,
    pub acknowledged: bool,
}

#[derive(Debug, Default)]
pub struct Record {
    pub answers: Vec<Answer>,
    pub uploads: Vec<Upload>,
}

impl Record {
    /// Fails the test, listing them, unless every answer was a success.
    pub fn assert_none_failed(&self, what: &str) {
        let failed: Vec<_> = self
            .answers
            .iter()
            .filter(|a| !a.status.is_success())
            .map(|a| format!("{} {} {}", a.what, a.status, a.body))
            .collect();
        assert!(
            failed.is_empty(),
            "{what}: {} of {} requests failed:\n{}",
            failed.len(),
            self.answers.len(),
            failed.join("\n")
        );
    }
}

/// An uploader (a build and its results, over and over) and a reader of
/// builds and failures, both through the gateway with `key`, until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    pub record: Arc<Mutex<Record>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// What each kind of request is recorded as.
    kinds: Vec<String>,
}

/// A client that, like the gateway, lets idle connections go before a
/// server's drain delay ends; every request has a deadline.
fn load_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(api_gateway::proxy::UPSTREAM_IDLE_TIMEOUT)
        .build()
        .unwrap()
}

async fn timed(what: &str, request: reqwest::RequestBuilder) -> (Answer, Reply) {
    let sent = Instant::now();
    let reply = match request.send().await {
        Ok(response) => Reply::read(response).await,
        // No answer at all (the connection broke): recorded as a failure
        // like any other, under a status no server sends.
        Err(error) => Reply {
            status: NO_ANSWER,
            headers: reqwest::header::HeaderMap::new(),
            text: format!("no answer: {error}"),
            body: serde_json::Value::Null,
        },
    };
    let answer = Answer {
        what: what.to_owned(),
        sent,
        took: sent.elapsed(),
        status: reply.status,
        retry_after: reply.header("retry-after").is_some(),
        body: reply.text.clone(),
    };
    (answer, reply)
}

impl Load {
    pub fn start(full: &FullPlatform, slug: &str, key: &str, every: Duration) -> Self {
        Self::start_at(&full.platform.url(""), slug, key, every)
    }

    /// [`Load::start`] through the gateway (or balancer) at `gateway`.
    pub fn start_at(gateway: &str, slug: &str, key: &str, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let record: Arc<Mutex<Record>> = Arc::default();
        let base = format!("{gateway}/api/v1/projects/{slug}");
        let http = load_client();
        let mut tasks = Vec::new();

        let (uploader_http, uploader_base, uploader_key) =
            (http.clone(), base.clone(), key.to_owned());
        let (uploader_stop, uploader_record) = (stop.clone(), record.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0_u64;
            while !uploader_stop.load(Ordering::Relaxed) {
                n += 1;
                let created = uploader_http
                    .post(format!("{uploader_base}/builds"))
                    .bearer_auth(&uploader_key)
                    .json(&json!({"job_name": "ci", "external_id": format!("load-{n}")}));
                let (answer, reply) = timed("create a build", created).await;
                uploader_record.lock().unwrap().answers.push(answer);
                if let Some(build) = reply.body["id"]
                    .as_str()
                    .filter(|_| reply.status.is_success())
                {
                    let upload = uploader_http
                        .post(format!("{uploader_base}/builds/{build}/results"))
                        .bearer_auth(&uploader_key)
                        .header("content-type", "application/xml")
                        .body(crate::gateway_helpers::JUNIT);
                    let (answer, _) = timed("upload results", upload).await;
                    let mut record = uploader_record.lock().unwrap();
                    record.uploads.push(Upload {
                        build: build.to_owned(),
                        acknowledged: answer.status.is_success(),
                    });
                    record.answers.push(answer);
                }
                tokio::time::sleep(every).await;
            }
        }));

        let (reader_stop, reader_record, reader_key) =
            (stop.clone(), record.clone(), key.to_owned());
        tasks.push(tokio::spawn(async move {
            while !reader_stop.load(Ordering::Relaxed) {
                for path in ["builds?limit=5", "failures?limit=5"] {
                    let read = http
                        .request(Method::GET, format!("{base}/{path}"))
                        .bearer_auth(&reader_key);
                    let (answer, _) = timed(&format!("GET {path}"), read).await;
                    reader_record.lock().unwrap().answers.push(answer);
                }
                tokio::time::sleep(every).await;
            }
        }));
        Self {
            stop,
            record,
            tasks,
            kinds: [
                "create a build",
                "upload results",
                "GET builds?limit=5",
                "GET failures?limit=5",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }

    /// Reads each of `paths` (under `gateway`) with `token` in turn, one
    /// request every `every` whatever the answers take (a fixed rate, as
    /// a fleet of clients sends), until stopped. Requests run side by side
    /// when answers are slower than the rate.
    pub fn reading(gateway: &str, token: &str, paths: &[&str], every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let record: Arc<Mutex<Record>> = Arc::default();
        let http = load_client();
        let (gateway, token) = (gateway.to_owned(), token.to_owned());
        let paths: Vec<String> = paths.iter().map(|path| (*path).to_owned()).collect();
        let kinds = paths.iter().map(|path| format!("GET {path}")).collect();
        let (reader_stop, reader_record) = (stop.clone(), record.clone());
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            let mut sent = Vec::new();
            for path in paths.iter().cycle() {
                ticks.tick().await;
                if reader_stop.load(Ordering::Relaxed) {
                    break;
                }
                let read = http
                    .request(Method::GET, format!("{gateway}{path}"))
                    .bearer_auth(&token);
                let (what, record) = (format!("GET {path}"), reader_record.clone());
                sent.push(tokio::spawn(async move {
                    let (answer, _) = timed(&what, read).await;
                    record.lock().unwrap().answers.push(answer);
                }));
            }
            // Every request sent is answered (or times out) before the
            // record is read.
            for request in sent {
                request.await.unwrap();
            }
        });
        Self {
            stop,
            record,
            tasks: vec![task],
            kinds,
        }
    }

    /// Whether every kind of request has been answered 2xx after `since`.
    pub fn all_succeeded_after(&self, since: Instant) -> bool {
        let record = self.record.lock().unwrap();
        self.kinds.iter().all(|what| {
            record
                .answers
                .iter()
                .any(|a| a.what == *what && a.sent >= since && a.status.is_success())
        })
    }

    /// Whether some request sent after `since` was refused with `status`.
    pub fn saw_after(&self, since: Instant, status: u16) -> bool {
        let record = self.record.lock().unwrap();
        record
            .answers
            .iter()
            .any(|a| a.sent >= since && a.status.as_u16() == status)
    }

    /// How each request sent after `since` was answered, for failure messages.
    pub fn statuses_after(&self, since: Instant) -> Vec<(String, u16, Duration)> {
        let record = self.record.lock().unwrap();
        record
            .answers
            .iter()
            .filter(|a| a.sent >= since)
            .map(|a| (a.what.clone(), a.status.as_u16(), a.took))
            .collect()
    }

    /// Stops the load and returns what it recorded.
    pub async fn finish(self) -> Record {
        self.stop.store(true, Ordering::Relaxed);
        // Each request has the client's 30 s timeout; a task still running
        // well after that is a hang, not a slow answer.
        for task in self.tasks {
            super::within("the load to stop", Duration::from_secs(60), task)
                .await
                .unwrap();
        }
        std::mem::take(&mut *self.record.lock().unwrap())
    }
}
