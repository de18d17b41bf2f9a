//! The upload body as a stream: from the request's chunks to a blocking
//! reader, fingerprinted and measured on the way, never held whole.
//!
//! The request task pumps chunks into a small bounded channel; the parser
//! reads them on a blocking thread through [`BodyReader`]. Backpressure
//! runs both ways: a slow parser slows the client, a stopped parser stops
//! the pump. Decompression is bounded by [`DecodedBudget`], which compares
//! the bytes a decoder produced with the bytes it was given so far, so a
//! gzip bomb is cut off while it is being read, whatever the body's size.
//!
//! A client that stops sending is given up after an idle timeout; one that
//! keeps sending a trickle (a byte a second holds an upload slot and a
//! database connection as well as silence does) must also keep up a
//! minimum average rate once the idle timeout has passed.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use tenant_core::idempotency::RequestFingerprint;
use tokio::sync::mpsc;

use crate::error::FailureError;
use crate::junit::JunitError;
use crate::size_limit::SizeLimitReached;

/// Chunks in flight between the request task and the parser.
pub const CHUNKS_IN_FLIGHT: usize = 16;

/// Below this many decoded bytes the decompression ratio is not checked:
/// small reports compress far better than the ratio allows.
pub const RATIO_FLOOR: u64 = 1024 * 1024;

/// How the pump ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// Every byte of the body went to the reader (and into the fingerprint).
    Complete,
    /// The reader went away first (the parser stopped on an error).
    ReaderGone,
}

fn body_ended_early() -> FailureError {
    FailureError::Report(JunitError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the request body ended early",
    )))
}

/// What the body may take.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bytes in all, as sent.
    pub max_bytes: u64,
    /// Longest wait for the next chunk.
    pub idle: Duration,
    /// Once `idle` has passed, the body must have arrived at this many
    /// bytes a second on average (0: no minimum). Only time spent waiting
    /// for the client counts, not time the parser or the database took.
    pub min_bytes_per_sec: u64,
}

/// How much of the body arrived, and how long the client was waited for.
#[derive(Debug, Default)]
struct Transfer {
    received: u64,
    waited: Duration,
}

impl Transfer {
    /// How long the next chunk may take, and whether that is the rate's
    /// bound rather than the idle timeout's: the client has earned `idle`
    /// plus the time its bytes are worth at the minimum rate.
    fn patience(&self, limits: BodyLimits) -> (Duration, bool) {
        if limits.min_bytes_per_sec == 0 {
            return (limits.idle, false);
        }
        let worth =
            Duration::from_millis(self.received.saturating_mul(1000) / limits.min_bytes_per_sec);
        let left = limits
            .idle
            .saturating_add(worth)
            .saturating_sub(self.waited);
        if left < limits.idle {
            (left, true)
        } else {
            (limits.idle, false)
        }
    }
}

/// The body's next chunk, fingerprinted and counted against the limits.
async fn next_chunk<B, E>(
    body: &mut B,
    transfer: &mut Transfer,
    limits: BodyLimits,
    fingerprint: &mut RequestFingerprint,
) -> Result<Option<Bytes>, FailureError>
where
    B: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let (patience, by_rate) = transfer.patience(limits);
    let started = Instant::now();
    let next = tokio::time::timeout(patience, body.next())
        .await
        .map_err(|_| {
            if by_rate {
                FailureError::UploadTooSlow {
                    min_bytes_per_sec: limits.min_bytes_per_sec,
                }
            } else {
                FailureError::UploadStalled {
                    secs: limits.idle.as_secs(),
                }
            }
        })?;
    transfer.waited += started.elapsed();
    let Some(chunk) = next else {
        return Ok(None);
    };
    let limit = limits.max_bytes;
    let chunk = chunk.map_err(|_| body_ended_early())?;
    transfer.received += chunk.len() as u64;
    if transfer.received > limit {
        return Err(FailureError::UploadTooLarge { limit });
    }
    fingerprint.update(&chunk);
    Ok(Some(chunk))
}

/// Moves the body into `chunks`, fingerprinting it and refusing it once it
/// passes `limit` bytes.
pub async fn pump<B, E>(
    mut body: B,
    chunks: mpsc::Sender<Bytes>,
    limits: BodyLimits,
    fingerprint: &mut RequestFingerprint,
) -> Result<Pumped, FailureError>
where
    B: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut transfer = Transfer::default();
    while let Some(chunk) = next_chunk(&mut body, &mut transfer, limits, fingerprint).await? {
        if chunks.send(chunk).await.is_err() {
            return Ok(Pumped::ReaderGone);
        }
    }
    Ok(Pumped::Complete)
}

/// Reads the body to its end for the fingerprint alone (a replayed upload).
pub async fn fingerprint_only<B, E>(
    mut body: B,
    limits: BodyLimits,
    mut fingerprint: RequestFingerprint,
) -> Result<Vec<u8>, FailureError>
where
    B: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut transfer = Transfer::default();
    while next_chunk(&mut body, &mut transfer, limits, &mut fingerprint)
        .await?
        .is_some()
    {}
    Ok(fingerprint.finish())
}

/// The parser's side of the channel: a blocking [`Read`] over the chunks,
/// counting what it handed out.
#[derive(Debug)]
pub struct BodyReader {
    chunks: mpsc::Receiver<Bytes>,
    current: Bytes,
    consumed: Rc<Cell<u64>>,
}

impl BodyReader {
    pub fn new(chunks: mpsc::Receiver<Bytes>) -> Self {
        Self {
            chunks,
            current: Bytes::new(),
            consumed: Rc::new(Cell::new(0)),
        }
    }

    /// A live count of the bytes read so far, for [`DecodedBudget`].
    pub fn consumed(&self) -> Rc<Cell<u64>> {
        Rc::clone(&self.consumed)
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// Bounds a decoder's output: at most `max` bytes in all, and (above
/// [`RATIO_FLOOR`]) at most `ratio` times the compressed bytes read so far.
#[derive(Debug)]
pub struct DecodedBudget<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    produced: u64,
    max: u64,
    ratio: u64,
}

impl<R> DecodedBudget<R> {
    pub fn new(inner: R, compressed: Rc<Cell<u64>>, max: u64, ratio: u64) -> Self {
        Self::resuming(inner, compressed, max, ratio, 0)
    }

    /// A budget of which `produced` bytes were spent already (by the
    /// earlier entries of an archive).
    pub fn resuming(
        inner: R,
        compressed: Rc<Cell<u64>>,
        max: u64,
        ratio: u64,
        produced: u64,
    ) -> Self {
        Self {
            inner,
            compressed,
            produced,
            max,
            ratio,
        }
    }

    pub fn produced(&self) -> u64 {
        self.produced
    }

    fn allowed(&self) -> u64 {
        let by_ratio = self
            .compressed
            .get()
            .saturating_mul(self.ratio)
            .max(RATIO_FLOOR);
        by_ratio.min(self.max)
    }
}

impl<R: Read> DecodedBudget<flate2::read::MultiGzDecoder<R>> {
    /// Gunzips `input` (all its members) within the budget.
    pub fn gunzip(input: R, compressed: Rc<Cell<u64>>, max: u64, ratio: u64) -> Self {
        Self::new(
            flate2::read::MultiGzDecoder::new(input),
            compressed,
            max,
            ratio,
        )
    }
}

impl<R: Read> Read for DecodedBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.produced += read as u64;
        let allowed = self.allowed();
        if self.produced > allowed {
            return Err(io::Error::other(SizeLimitReached { limit: allowed }));
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::size_limit::size_limit;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// What the upload handler starts from: media type and encoding.
    fn fingerprint(content_type: &str, content_encoding: &str) -> RequestFingerprint {
        RequestFingerprint::new()
            .with_field(content_type)
            .with_field(content_encoding)
    }

    fn limits(max_bytes: u64) -> BodyLimits {
        BodyLimits {
            max_bytes,
            idle: Duration::from_secs(5),
            min_bytes_per_sec: 0,
        }
    }

    fn reader_over(chunks: Vec<&'static [u8]>) -> BodyReader {
        let (sender, receiver) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            sender.try_send(Bytes::from_static(chunk)).unwrap();
        }
        BodyReader::new(receiver)
    }

    #[test]
    fn the_reader_joins_chunks_and_counts_them() {
        let mut reader = reader_over(vec![b"<test", b"", b"suite/>"]);
        let consumed = reader.consumed();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "<testsuite/>");
        assert_eq!(consumed.get(), 12);
    }

    #[test]
    fn a_bomb_is_cut_off_by_ratio_long_before_the_total_limit() {
        let bomb = gzip(&vec![b'A'; 64 * 1024 * 1024]);
        let (sender, receiver) = mpsc::channel(1);
        sender.try_send(Bytes::from(bomb)).unwrap();
        drop(sender);
        let body = BodyReader::new(receiver);
        let compressed = body.consumed();
        let decoder = flate2::read::MultiGzDecoder::new(body);
        let mut budget = DecodedBudget::new(decoder, compressed, u64::MAX, 100);
        let error = io::copy(&mut budget, &mut io::sink()).unwrap_err();
        let limit = size_limit(&error).expect("a size limit error");
        assert!(limit < 64 * 1024 * 1024, "{limit}");
        assert!(budget.produced <= limit + 64 * 1024, "{}", budget.produced);
    }

    #[test]
    fn ordinary_compression_passes_and_the_total_limit_still_holds() {
        let text: Vec<u8> = (0..200_000_u32)
            .flat_map(|i| format!("<testcase name=\"t{i}\" time=\"0.{i}\"/>\n").into_bytes())
            .collect();
        let packed = gzip(&text);
        let run = |max: u64| {
            let (sender, receiver) = mpsc::channel(1);
            sender.try_send(Bytes::from(packed.clone())).unwrap();
            drop(sender);
            let body = BodyReader::new(receiver);
            let compressed = body.consumed();
            let mut budget = DecodedBudget::new(
                flate2::read::MultiGzDecoder::new(body),
                compressed,
                max,
                200,
            );
            let mut out = Vec::new();
            budget.read_to_end(&mut out).map(|_| out)
        };
        assert_eq!(run(u64::MAX).unwrap(), text);
        let error = run(1024 * 1024).unwrap_err();
        assert_eq!(size_limit(&error), Some(1024 * 1024));
    }

    #[tokio::test]
    async fn the_pump_hashes_what_it_forwards_and_refuses_past_the_limit() {
        let chunks = || {
            futures_util::stream::iter(vec![
                Ok::<_, io::Error>(Bytes::from_static(b"abc")),
                Ok(Bytes::from_static(b"def")),
            ])
        };
        let (sender, mut receiver) = mpsc::channel(4);
        let mut hash = fingerprint("application/xml", "");
        let pumped = pump(chunks(), sender, limits(6), &mut hash).await.unwrap();
        assert_eq!(pumped, Pumped::Complete);
        assert_eq!(receiver.recv().await.unwrap(), "abc");
        assert_eq!(receiver.recv().await.unwrap(), "def");
        let whole = fingerprint_only(chunks(), limits(6), fingerprint("application/xml", ""))
            .await
            .unwrap();
        assert_eq!(hash.finish(), whole);
        let other_type = fingerprint_only(chunks(), limits(6), fingerprint("application/json", ""))
            .await
            .unwrap();
        assert_ne!(whole, other_type);

        let (sender, _receiver) = mpsc::channel(4);
        let mut hash = fingerprint("application/xml", "");
        let refused = pump(chunks(), sender, limits(5), &mut hash)
            .await
            .unwrap_err();
        assert!(matches!(refused, FailureError::UploadTooLarge { limit: 5 }));
    }

    /// Idempotency records stored before keep matching their retries: the
    /// fingerprint is SHA-256 over the media type, the encoding (each
    /// closed by a zero byte) and the body.
    #[tokio::test]
    async fn a_fingerprint_is_the_sha256_recorded_uploads_were_stored_with() {
        use sha2::{Digest, Sha256};

        let body = futures_util::stream::iter(vec![
            Ok::<_, io::Error>(Bytes::from_static(b"<testsuite")),
            Ok(Bytes::from_static(b"/>")),
        ]);
        let streamed = fingerprint_only(body, limits(100), fingerprint("application/xml", "gzip"))
            .await
            .unwrap();
        let stored = Sha256::digest(b"application/xml\0gzip\0<testsuite/>").to_vec();
        assert_eq!(streamed, stored);
    }

    #[tokio::test]
    async fn the_pump_stops_when_the_reader_is_gone() {
        let (sender, receiver) = mpsc::channel(1);
        drop(receiver);
        let body = futures_util::stream::iter(vec![Ok::<_, io::Error>(Bytes::from_static(b"x"))]);
        let mut hash = fingerprint("", "");
        assert_eq!(
            pump(body, sender, limits(10), &mut hash).await.unwrap(),
            Pumped::ReaderGone
        );
    }

    #[tokio::test]
    async fn a_body_that_stops_sending_is_refused_as_stalled() {
        let first = futures_util::stream::iter(vec![Ok::<_, io::Error>(Bytes::from_static(b"<"))]);
        let body = first.chain(futures_util::stream::pending());
        let (sender, _receiver) = mpsc::channel(4);
        let mut hash = fingerprint("", "");
        let stalled = BodyLimits {
            max_bytes: 10,
            idle: Duration::from_millis(50),
            min_bytes_per_sec: 1,
        };
        let error = pump(body, sender, stalled, &mut hash).await.unwrap_err();
        assert!(
            matches!(error, FailureError::UploadStalled { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_body_that_trickles_below_the_minimum_rate_is_refused_as_too_slow() {
        let trickle = futures_util::stream::unfold(0_u32, |sent| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, io::Error>(Bytes::from_static(b" ")), sent + 1))
        });
        let (sender, mut receiver) = mpsc::channel(1024);
        tokio::spawn(async move { while receiver.recv().await.is_some() {} });
        let mut hash = fingerprint("", "");
        let slow = BodyLimits {
            max_bytes: 1 << 20,
            idle: Duration::from_millis(200),
            min_bytes_per_sec: 1000,
        };
        let started = Instant::now();
        let error = pump(Box::pin(trickle), sender, slow, &mut hash)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                FailureError::UploadTooSlow {
                    min_bytes_per_sec: 1000
                }
            ),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
