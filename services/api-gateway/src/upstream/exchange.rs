//! One request and its answer on one upstream connection.

use std::fmt::Write as _;
use std::io;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{self, BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::chunked::Decoded;
use super::head::{Framing, parse_head};
use super::{Connection, Origin, Pools, UpstreamClient, UpstreamError};

/// Answers of at most this many bytes (by their Content-Length) are read
/// whole before the gateway answers, so the client gets head and body in
/// one write. Streamed, the head goes out alone when the body has not
/// arrived yet, and the body follows in a second small write: more
/// packets, and without `TCP_NODELAY` the second one would wait for the
/// client's delayed ACK (about 40 ms).
pub const WHOLE_BODY_MAX_BYTES: u64 = 64 * 1024;

/// What is read from a socket at least at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// A request's body.
pub enum RequestBody {
    None,
    /// The client's body, sent with its declared `length` or else chunked,
    /// refused past `limit` bytes.
    Stream {
        payload: web::Payload,
        length: Option<u64>,
        limit: usize,
    },
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Stream { length, limit, .. } => f
                .debug_struct("Stream")
                .field("length", length)
                .field("limit", limit)
                .finish_non_exhaustive(),
        }
    }
}

/// What to send and where.
#[derive(Debug)]
pub struct Request<'a> {
    pub origin: &'a Origin,
    /// The request line and header fields, ending with the empty line.
    pub head: &'a [u8],
    pub body: RequestBody,
    /// A `HEAD` request: its answer has no body, whatever its head says.
    pub head_only: bool,
    /// Whether the request may be sent again on another connection when a
    /// pooled one turns out closed before any answer (idempotent, no body).
    pub retriable: bool,
    /// When the whole exchange, the answer's body included, must be over.
    pub deadline: Instant,
}

/// An upstream's answer: its head, and its body whole or as a stream.
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: ResponseBody,
}

#[derive(Debug)]
pub enum ResponseBody {
    Empty,
    Whole(Bytes),
    /// The body as it arrives; `length` when the upstream declared it.
    Stream {
        length: Option<u64>,
        stream: BodyStream,
    },
}

/// A body read from the upstream as the client takes it; the connection
/// goes back to the pool when the body has been read to its end.
pub struct BodyStream(pub LocalBoxStream<'static, Result<Bytes, UpstreamError>>);

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyStream")
    }
}

/// Why an attempt failed: on a pooled connection that turned out closed
/// before anything was sent or answered, the request may go again.
enum Attempt {
    Stale(io::Error),
    Failed(UpstreamError),
}

enum BodyWrite {
    /// The client's side: its body broke off, stalled or was too large.
    Client(UpstreamError),
    /// The upstream stopped taking the body; it may have answered early.
    Upstream,
}

impl UpstreamClient {
    /// Sends `request` and reads the head of its answer (and a small body),
    /// all before the request's deadline.
    pub async fn send(&self, mut request: Request<'_>) -> Result<UpstreamResponse, UpstreamError> {
        let deadline = request.deadline;
        let exchange = async {
            if let Some(connection) = self.pools.take(request.origin) {
                match self.attempt(connection, &mut request, true).await {
                    Ok(response) => return Ok(response),
                    Err(Attempt::Failed(error)) => return Err(error),
                    // Closed while idle: nothing reached the upstream.
                    Err(Attempt::Stale(_)) => {}
                }
            }
            let connection = self.connect(request.origin).await?;
            self.attempt(connection, &mut request, false)
                .await
                .map_err(|attempt| match attempt {
                    Attempt::Stale(error) => UpstreamError::Io(error),
                    Attempt::Failed(error) => error,
                })
        };
        tokio::time::timeout_at(deadline, exchange)
            .await
            .unwrap_or(Err(UpstreamError::Timeout))
    }

    async fn attempt(
        &self,
        mut connection: Connection,
        request: &mut Request<'_>,
        reused: bool,
    ) -> Result<UpstreamResponse, Attempt> {
        let may_retry = reused && request.retriable && matches!(request.body, RequestBody::None);
        let failed = |error: io::Error| {
            if may_retry {
                Attempt::Stale(error)
            } else {
                Attempt::Failed(UpstreamError::Io(error))
            }
        };
        connection
            .stream
            .write_all(request.head)
            .await
            .map_err(failed)?;
        let mut keep_alive = true;
        if let RequestBody::Stream {
            payload,
            length,
            limit,
        } = &mut request.body
        {
            match write_body(&mut connection, payload, *length, *limit).await {
                Ok(()) => {}
                Err(BodyWrite::Client(error)) => return Err(Attempt::Failed(error)),
                Err(BodyWrite::Upstream) => keep_alive = false,
            }
        }
        let head = loop {
            match parse_head(&mut connection.buf, request.head_only) {
                Ok(Some(head)) if head.status.is_informational() => continue,
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(problem) => return Err(Attempt::Failed(UpstreamError::Protocol(problem))),
            }
            let nothing_yet = connection.buf.is_empty();
            match connection.read_more().await {
                Ok(0) if nothing_yet => return Err(failed(io::ErrorKind::UnexpectedEof.into())),
                Ok(0) => return Err(Attempt::Failed(UpstreamError::Io(eof()))),
                Ok(_) => {}
                Err(error) if nothing_yet => return Err(failed(error)),
                Err(error) => return Err(Attempt::Failed(UpstreamError::Io(error))),
            }
        };
        let keep_alive = keep_alive && head.keep_alive;
        let body = match head.framing {
            Framing::Empty => {
                if keep_alive {
                    self.pools.put(&request.origin.authority, connection);
                }
                ResponseBody::Empty
            }
            Framing::Length(length) if length <= WHOLE_BODY_MAX_BYTES => {
                let length = usize::try_from(length).unwrap_or(usize::MAX);
                while connection.buf.len() < length {
                    match connection.read_more().await {
                        Ok(0) => return Err(Attempt::Failed(UpstreamError::Io(eof()))),
                        Ok(_) => {}
                        Err(error) => return Err(Attempt::Failed(UpstreamError::Io(error))),
                    }
                }
                let body = connection.buf.split_to(length).freeze();
                if keep_alive {
                    self.pools.put(&request.origin.authority, connection);
                }
                ResponseBody::Whole(body)
            }
            framing => {
                let length = match &framing {
                    Framing::Length(length) => Some(*length),
                    _ => None,
                };
                let reading = Reading {
                    connection,
                    framing,
                    pools: self.pools.clone(),
                    authority: request.origin.authority.clone(),
                    keep_alive,
                    deadline: request.deadline,
                };
                ResponseBody::Stream {
                    length,
                    stream: reading.into_stream(),
                }
            }
        };
        Ok(UpstreamResponse {
            status: head.status,
            headers: head.headers,
            body,
        })
    }
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the upstream closed the connection mid-answer",
    )
}

impl Connection {
    async fn read_more(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK_BYTES / 4 {
            self.buf.reserve(READ_CHUNK_BYTES);
        }
        self.stream.read_buf(&mut self.buf).await
    }
}

/// Streams the client's body to the upstream: `length` bytes when
/// declared (the body ends there, whatever the client's stream does next:
/// an upgrade request's stream only ends with the connection), or else
/// chunked (chunks of no bytes are skipped: one would end the body).
async fn write_body(
    connection: &mut Connection,
    payload: &mut web::Payload,
    length: Option<u64>,
    limit: usize,
) -> Result<(), BodyWrite> {
    let mut seen = 0_usize;
    let mut framed = BytesMut::new();
    let declared = length.map(|length| usize::try_from(length).unwrap_or(usize::MAX));
    while declared.is_none_or(|declared| seen < declared) {
        let Some(chunk) = payload.next().await else {
            break;
        };
        let mut chunk = chunk.map_err(|error| {
            BodyWrite::Client(if tenant_core::server::is_body_timeout(&error) {
                UpstreamError::BodyStalled
            } else {
                UpstreamError::ClientBody(error.to_string())
            })
        })?;
        if let Some(declared) = declared {
            chunk.truncate(declared - seen);
        }
        seen += chunk.len();
        if seen > limit {
            return Err(BodyWrite::Client(UpstreamError::BodyTooLarge));
        }
        if chunk.is_empty() {
            continue;
        }
        let written = if declared.is_some() {
            connection.stream.write_all(&chunk).await
        } else {
            framed.clear();
            framed.reserve(chunk.len() + 20);
            // Writing into a BytesMut cannot fail.
            let _ = write!(framed, "{:x}\r\n", chunk.len());
            framed.put_slice(&chunk);
            framed.put_slice(b"\r\n");
            connection.stream.write_all(&framed).await
        };
        written.map_err(|_| BodyWrite::Upstream)?;
    }
    match declared {
        Some(declared) if seen < declared => Err(BodyWrite::Client(UpstreamError::ClientBody(
            "the body ended before its declared length".to_owned(),
        ))),
        Some(_) => Ok(()),
        None => connection
            .stream
            .write_all(b"0\r\n\r\n")
            .await
            .map_err(|_| BodyWrite::Upstream),
    }
}

/// A streamed body being read.
struct Reading {
    connection: Connection,
    framing: Framing,
    pools: Arc<Pools>,
    authority: String,
    keep_alive: bool,
    deadline: Instant,
}

impl Reading {
    fn into_stream(self) -> BodyStream {
        BodyStream(
            futures_util::stream::unfold(Some(self), |reading| async move {
                let mut reading = reading?;
                match reading.next().await {
                    Ok(Some(bytes)) => Some((Ok(bytes), Some(reading))),
                    Ok(None) => {
                        reading.finish();
                        None
                    }
                    Err(error) => Some((Err(error), None)),
                }
            })
            .boxed_local(),
        )
    }

    /// The next piece of the body; `None` at its end.
    async fn next(&mut self) -> Result<Option<Bytes>, UpstreamError> {
        loop {
            let buf = &mut self.connection.buf;
            match &mut self.framing {
                Framing::Empty | Framing::Length(0) => return Ok(None),
                Framing::Length(left) => {
                    if !buf.is_empty() {
                        let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                        *left -= take as u64;
                        return Ok(Some(buf.split_to(take).freeze()));
                    }
                }
                Framing::Chunked(decoder) => match decoder.decode(buf) {
                    Ok(Decoded::Data(data)) => return Ok(Some(data)),
                    Ok(Decoded::Done) => return Ok(None),
                    Ok(Decoded::NeedMore) => {}
                    Err(problem) => return Err(UpstreamError::Protocol(problem)),
                },
                Framing::Close => {
                    if !buf.is_empty() {
                        return Ok(Some(buf.split().freeze()));
                    }
                }
            }
            let read = tokio::time::timeout_at(self.deadline, self.connection.read_more())
                .await
                .map_err(|_| UpstreamError::Timeout)?
                .map_err(UpstreamError::Io)?;
            if read == 0 {
                return match self.framing {
                    Framing::Close => Ok(None),
                    _ => Err(UpstreamError::Io(eof())),
                };
            }
        }
    }

    /// The body has been read to its end: the connection may serve again.
    fn finish(self) {
        if self.keep_alive {
            self.pools.put(&self.authority, self.connection);
        }
    }
}
