//! The chunked transfer coding of an upstream's answer (RFC 9112 section 7.1),
//! decoded as it arrives: chunk extensions are skipped, trailers read and
//! dropped, and every line bounded.

use actix_web::web::{Buf, Bytes, BytesMut};

/// The longest chunk-size line (size, extensions) or trailer line accepted.
const MAX_LINE_BYTES: usize = 4096;

/// All trailer lines together.
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// What [`ChunkedDecoder::decode`] found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Some of the body.
    Data(Bytes),
    /// The buffer holds no complete next piece: read more.
    NeedMore,
    /// The last chunk and the trailers have been read.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
    Done,
}

#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self { state: State::Size }
    }
}

impl ChunkedDecoder {
    /// Takes the next piece of the body out of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, &'static str> {
        loop {
            match self.state {
                State::Size => {
                    let Some(end) = line_end(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = chunk_size(&buf[..end])?;
                    buf.advance(end + 2);
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    self.state = match left - take as u64 {
                        0 => State::DataEnd,
                        rest => State::Data(rest),
                    };
                    return Ok(Decoded::Data(buf.split_to(take).freeze()));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err("a chunk does not end with CRLF");
                    }
                    buf.advance(2);
                    self.state = State::Size;
                }
                State::Trailers(seen) => {
                    let Some(end) = line_end(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    buf.advance(end + 2);
                    if end == 0 {
                        self.state = State::Done;
                    } else if seen + end > MAX_TRAILER_BYTES {
                        return Err("the trailers are too large");
                    } else {
                        self.state = State::Trailers(seen + end);
                    }
                }
                State::Done => return Ok(Decoded::Done),
            }
        }
    }
}

/// Where the CRLF ending the line at the start of `buf` is.
fn line_end(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    let window = &buf[..buf.len().min(MAX_LINE_BYTES + 2)];
    match window.windows(2).position(|pair| pair == b"\r\n") {
        Some(end) => Ok(Some(end)),
        None if window.len() > MAX_LINE_BYTES => Err("a chunk line is too long"),
        None => Ok(None),
    }
}

/// The size on a chunk-size line: hex digits, then optional whitespace and
/// extensions after `;`.
fn chunk_size(line: &[u8]) -> Result<u64, &'static str> {
    let digits_end = line
        .iter()
        .position(|byte| !byte.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let rest = &line[digits_end..];
    let rest_ok = rest
        .iter()
        .position(|byte| !matches!(byte, b' ' | b'\t'))
        .is_none_or(|at| rest[at] == b';');
    if digits_end == 0 || digits_end > 15 || !rest_ok {
        return Err("a chunk size is not valid");
    }
    // At most 15 hex digits: no overflow.
    std::str::from_utf8(&line[..digits_end])
        .ok()
        .and_then(|digits| u64::from_str_radix(digits, 16).ok())
        .ok_or("a chunk size is not valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<Vec<u8>, &'static str> {
        let mut decoder = ChunkedDecoder::default();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match decoder.decode(&mut buf)? {
                Decoded::Data(data) => body.extend_from_slice(&data),
                Decoded::Done => return Ok(body),
                Decoded::NeedMore if fed >= input.len() => return Err("ended early"),
                Decoded::NeedMore => {
                    let next = (fed + step).min(input.len());
                    buf.extend_from_slice(&input[fed..next]);
                    fed = next;
                }
            }
        }
    }

    const MESSAGE: &[u8] = b"5;name=value\r\nhello\r\n7 \r\n, world\r\n0\r\nx-checksum: 1\r\n\r\n";

    #[test]
    fn a_body_decodes_the_same_whether_it_arrives_whole_or_a_byte_at_a_time() {
        for step in [1, 2, 3, 7, MESSAGE.len()] {
            assert_eq!(
                decode_all(MESSAGE, step).as_deref(),
                Ok(&b"hello, world"[..]),
                "step {step}"
            );
        }
    }

    #[test]
    fn the_bytes_after_the_last_chunk_stay_in_the_buffer() {
        let mut decoder = ChunkedDecoder::default();
        let mut buf = BytesMut::from(&b"2\r\nok\r\n0\r\n\r\nHTTP/1.1"[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"ok")))
        );
        assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Done));
        assert_eq!(&buf[..], b"HTTP/1.1");
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for bad in [
            &b"x\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"5 five\r\nhello\r\n0\r\n\r\n",
            b"1000000000000000\r\n",
            b"\r\n",
        ] {
            assert!(
                decode_all(bad, 3).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_line_without_an_end_is_refused_once_it_is_too_long() {
        let mut line = b"5;".to_vec();
        line.extend(std::iter::repeat_n(b'a', MAX_LINE_BYTES + 10));
        let mut decoder = ChunkedDecoder::default();
        let mut buf = BytesMut::from(&line[..]);
        assert_eq!(decoder.decode(&mut buf), Err("a chunk line is too long"));
    }
}
