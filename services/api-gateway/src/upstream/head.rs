//! An upstream answer's head: parsed, bounded, and how its body is framed.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::web::{Buf, BytesMut};

use super::chunked::ChunkedDecoder;

/// The most an answer's head may take.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most header fields an answer may have.
const MAX_HEADERS: usize = 100;

/// How an answer's body is delimited (RFC 9112 section 6.3).
#[derive(Debug)]
pub(super) enum Framing {
    Empty,
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Until the upstream closes the connection.
    Close,
}

/// An answer's head as parsed.
#[derive(Debug)]
pub(super) struct Head {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub framing: Framing,
    /// Whether the connection may carry another request afterwards.
    pub keep_alive: bool,
}

/// Parses an answer's head at the start of `buf` and takes it out;
/// `Ok(None)` while it is incomplete.
pub(super) fn parse_head(
    buf: &mut BytesMut,
    head_only: bool,
) -> Result<Option<Head>, &'static str> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let head_length = match response.parse(buf) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err("the head is too large");
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err("too many header fields"),
        Err(_) => return Err("the head is malformed"),
    };
    let code = response.code.ok_or("the head has no status code")?;
    let status = StatusCode::from_u16(code).map_err(|_| "the status code is out of range")?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err("switching protocols is not supported");
    }
    let mut keep_alive = response.version == Some(1);
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<bool> = None;
    let mut headers = Vec::with_capacity(response.headers.len());
    for field in response.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| "a header field name is not valid")?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| "a header field value is not valid")?;
        if name == header::CONTENT_LENGTH {
            let length = value
                .to_str()
                .ok()
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or("the Content-Length is not valid")?;
            if content_length.is_some_and(|seen| seen != length) {
                return Err("the Content-Length fields disagree");
            }
            content_length = Some(length);
        } else if name == header::TRANSFER_ENCODING {
            // The final coding decides; only chunked delimits the body.
            let last = value
                .as_bytes()
                .rsplit(|b| *b == b',')
                .next()
                .unwrap_or(b"");
            transfer_encoding = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == header::CONNECTION {
            let tokens = value.as_bytes().split(|b| *b == b',');
            if tokens
                .into_iter()
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            {
                keep_alive = false;
            }
        }
        headers.push((name, value));
    }
    buf.advance(head_length);
    let framing = if status.is_informational()
        || head_only
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if let Some(chunked) = transfer_encoding {
        // With both fields the message may have been smuggled: answer it,
        // then close the connection (RFC 9112 section 6.3).
        if content_length.is_some() {
            keep_alive = false;
        }
        if chunked {
            Framing::Chunked(ChunkedDecoder::default())
        } else {
            Framing::Close
        }
    } else {
        match content_length {
            Some(0) => Framing::Empty,
            Some(length) => Framing::Length(length),
            None => Framing::Close,
        }
    };
    if matches!(framing, Framing::Close) {
        keep_alive = false;
    }
    Ok(Some(Head {
        status,
        headers,
        framing,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str, head_only: bool) -> Result<Option<Head>, &'static str> {
        parse_head(&mut BytesMut::from(text.as_bytes()), head_only)
    }

    fn framing(text: &str) -> (String, bool) {
        let parsed = head(text, false).ok().flatten();
        let parsed = parsed.as_ref();
        (
            format!("{:?}", parsed.map(|head| &head.framing)),
            parsed.is_some_and(|head| head.keep_alive),
        )
    }

    #[test]
    fn an_answer_is_framed_by_its_head() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
                "Some(Length(5))",
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                "Some(Empty)",
                true,
            ),
            ("HTTP/1.1 204 No Content\r\n\r\n", "Some(Empty)", true),
            (
                "HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n",
                "Some(Empty)",
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                "Some(Chunked(ChunkedDecoder { state: Size }))",
                true,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", "Some(Close)", false),
            (
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
                "Some(Close)",
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: keep-alive, Close\r\n\r\n",
                "Some(Length(3))",
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
                "Some(Chunked(ChunkedDecoder { state: Size }))",
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\n",
                "Some(Length(3))",
                false,
            ),
        ];
        for (text, expected, keep_alive) in cases {
            assert_eq!(framing(text), (expected.to_owned(), keep_alive), "{text:?}");
        }
    }

    #[test]
    fn the_answer_to_a_head_request_has_no_body() {
        let parsed = head("HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n", true);
        assert!(matches!(
            parsed,
            Ok(Some(Head {
                framing: Framing::Empty,
                keep_alive: true,
                ..
            }))
        ));
    }

    #[test]
    fn a_head_is_taken_out_of_the_buffer_once_complete() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-le"[..]);
        assert!(matches!(parse_head(&mut buf, false), Ok(None)));
        buf.extend_from_slice(b"ngth: 2\r\nx-a: 1\r\n\r\nok");
        let parsed = parse_head(&mut buf, false).ok().flatten();
        assert_eq!(parsed.map(|head| head.headers.len()), Some(2));
        assert_eq!(&buf[..], b"ok");
    }

    #[test]
    fn broken_heads_are_refused() {
        for text in [
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "SMTP ready\r\n\r\n",
        ] {
            assert!(head(text, false).is_err(), "{text:?}");
        }
        let mut many = String::from("HTTP/1.1 200 OK\r\n");
        for n in 0..=MAX_HEADERS {
            many.push_str(&format!("x-{n}: 1\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(head(&many, false).err(), Some("too many header fields"));
        let endless = format!("HTTP/1.1 200 OK\r\nx-a: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(head(&endless, false).err(), Some("the head is too large"));
    }
}
