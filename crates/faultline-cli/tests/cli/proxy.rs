//! A small HTTP proxy in front of the gateway that records every request
//! and can lose the answer to the next upload after forwarding it (the
//! server counted it; the client sees a 503), as a load balancer cut off
//! mid-answer would, or refuse the next upload before forwarding it (a
//! 429 with `Retry-After`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request that went through the proxy and what its client got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
}

impl Seen {
    pub fn is_upload(&self) -> bool {
        self.method == "POST" && self.path.ends_with("/results")
    }
}

#[derive(Debug)]
struct State {
    upstream: String,
    http: reqwest::Client,
    lose_next_upload_answer: AtomicBool,
    /// The `Retry-After` of a 429 the next upload gets without being
    /// forwarded.
    refuse_next_upload: Mutex<Option<u64>>,
    seen: Mutex<Vec<Seen>>,
}

#[derive(Debug)]
pub struct Proxy {
    pub url: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

impl Proxy {
    /// A proxy to `upstream` (a base URL).
    pub async fn start(upstream: &str) -> Self {
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            lose_next_upload_answer: AtomicBool::new(false),
            refuse_next_upload: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(512 * 1024 * 1024))
                .default_service(web::to(forward))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{address}"),
            state,
            handle,
        }
    }

    /// The next upload is forwarded, and its answer replaced by a 503.
    pub fn lose_next_upload_answer(&self) {
        self.state
            .lose_next_upload_answer
            .store(true, Ordering::SeqCst);
    }

    /// The next upload is not forwarded: a 429 with `Retry-After`.
    pub fn refuse_next_upload(&self, retry_after_secs: u64) {
        *self.state.refuse_next_upload.lock().unwrap() = Some(retry_after_secs);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn uploads(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(Seen::is_upload).collect()
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn forward(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes()).unwrap();
    let mut outgoing = state
        .http
        .request(
            method.clone(),
            format!("{}{path_and_query}", state.upstream),
        )
        .body(body.to_vec());
    for (name, value) in request.headers() {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let mut seen = Seen {
        method: method.to_string(),
        path: request.uri().path().to_owned(),
        status: 502,
        at: Instant::now(),
    };
    if seen.is_upload() {
        let refusal = state.refuse_next_upload.lock().unwrap().take();
        if let Some(retry_after) = refusal {
            seen.status = 429;
            state.seen.lock().unwrap().push(seen);
            return HttpResponse::TooManyRequests()
                .insert_header(("retry-after", retry_after.to_string()))
                .finish();
        }
    }
    let Ok(answer) = outgoing.send().await else {
        state.seen.lock().unwrap().push(seen);
        return HttpResponse::BadGateway().finish();
    };
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    if seen.is_upload() && state.lose_next_upload_answer.swap(false, Ordering::SeqCst) {
        seen.status = 503;
        state.seen.lock().unwrap().push(seen);
        return HttpResponse::ServiceUnavailable()
            .insert_header(("retry-after", "0"))
            .finish();
    }
    seen.status = status;
    state.seen.lock().unwrap().push(seen);
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            response.append_header((name.as_str(), value.as_bytes()));
        }
    }
    response.body(bytes.to_vec())
}
