//! Requests being served on the public listeners, counted until their
//! response body has been sent.
//!
//! Shutdown waits for this count to reach zero before it stops the server:
//! when actix-server stops, its accept thread may exit before a worker has
//! seen the stop command, and such a worker ends at once, dropping the
//! connections it was serving. With nothing in flight, that can only cut
//! idle keep-alive connections.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Counter {
    requests: AtomicUsize,
    idle: Notify,
}

/// The count, shared by every worker of one server.
#[derive(Debug, Clone, Default)]
pub(super) struct InFlight(Arc<Counter>);

impl InFlight {
    pub(super) fn enter(&self) -> InFlightGuard {
        self.0.requests.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    /// Returns once no request is in flight.
    pub(super) async fn wait_idle(&self) {
        loop {
            let idle = self.0.idle.notified();
            if self.0.requests.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

pub(super) struct InFlightGuard(Arc<Counter>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.requests.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A response body that keeps its request counted until it is dropped:
/// sent in full, or abandoned with its connection.
/// A response body that keeps its request counted until it is done.
pub(super) struct CountedBody<B> {
    body: B,
    _guard: Option<InFlightGuard>,
}

impl<B> CountedBody<B> {
    pub(super) fn new(body: B, guard: Option<InFlightGuard>) -> Self {
        Self {
            body,
            _guard: guard,
        }
    }
}

impl<B: MessageBody + Unpin> MessageBody for CountedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}
