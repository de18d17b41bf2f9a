//! Input that stops at a size: the error a reader raises at its limit,
//! raised as an io error so it passes through decoders and the XML reader
//! and is recognised again at the end (413, not a parse error).

use std::io::{self, Read};

/// The io error a [`LimitedReader`] raises; recognised so the limit
/// becomes a 413, not a parse error.
#[derive(Debug, thiserror::Error)]
#[error("input exceeds {limit} bytes")]
pub struct SizeLimitReached {
    pub limit: u64,
}

/// Stops reading with [`SizeLimitReached`] once `limit` bytes were read.
/// Put around decompressors so a gzip or zip bomb is cut off at the limit.
#[derive(Debug)]
pub struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    reached: bool,
}

impl<R> LimitedReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            remaining: limit,
            limit,
            reached: false,
        }
    }

    pub fn consumed(&self) -> u64 {
        self.limit - self.remaining
    }

    /// This reader, not one inside it, refused to read on.
    pub fn reached(&self) -> bool {
        self.reached
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte beyond the limit, so reaching it exactly is fine
        // and crossing it is noticed.
        let allowed = usize::try_from(self.remaining.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..allowed])?;
        let read_u64 = read as u64;
        if read_u64 > self.remaining {
            self.reached = true;
            return Err(io::Error::other(SizeLimitReached { limit: self.limit }));
        }
        self.remaining -= read_u64;
        Ok(read)
    }
}

pub fn size_limit(error: &io::Error) -> Option<u64> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SizeLimitReached>())
        .map(|reached| reached.limit)
}
