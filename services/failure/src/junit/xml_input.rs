//! The XML reader's input: it knows where each XML event begins and ends,
//! so no event can grow past a bound while it is being read, and it counts
//! lines, so errors can say where they are.
//!
//! quick-xml's buffered reader copies an event (a text node, a tag, a
//! comment, a CDATA section) whole into its buffer before handing it over:
//! a `<system-out>` of 256 MiB would take 256 MiB of memory however little
//! of it is kept. [`XmlInput`] follows the document's lexical structure
//! (text, tags with their quoted values, comments, CDATA, processing
//! instructions) as the reader consumes it, and never hands the reader more
//! than `max_event` bytes of one event. The rest of a longer text, CDATA
//! section or comment is skipped on the input side and the reader is shown
//! the event's end; a longer tag, processing instruction or document type
//! declaration is refused with [`MarkupTooLong`] and the position of its
//! `<`. Memory for one event is therefore bounded by `max_event` whatever
//! the document holds.

use std::io::{self, BufRead, Read};

/// A tag, processing instruction or document type declaration is longer
/// than the bound; raised as an io error so the XML reader passes it on.
#[derive(Debug, thiserror::Error)]
#[error("line {line}, column {column}: markup longer than {max} bytes")]
pub struct MarkupTooLong {
    pub line: u64,
    pub column: u64,
    pub max: u64,
    /// It was a document type declaration (refused whatever its size).
    pub doctype: bool,
}

pub fn markup_too_long(error: &io::Error) -> Option<&MarkupTooLong> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<MarkupTooLong>())
}

/// Where the input is in the XML grammar, as far as it takes to know where
/// each event ends (the same rules as quick-xml's reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Character data, entity and character references included.
    Text,
    /// Just after `<`.
    Open,
    /// Just after `<!`.
    Bang,
    /// A start or end tag; `quote` inside an attribute value.
    Tag { quote: Option<u8> },
    /// `<?...?>`, the XML declaration included.
    Instruction,
    /// `<!--...-->`.
    Comment,
    /// `<![CDATA[...]]>`.
    CData,
    /// `<!DOCTYPE ...>`. Never left: the parser refuses the declaration as
    /// soon as it is read, so nothing after it is ever needed, and a
    /// declaration has no simple end (its internal subset nests).
    Doctype,
}

/// The lexical state and the position, apart from the reader they watch
/// (so one can be updated while the other is borrowed).
#[derive(Debug)]
struct Tracker {
    max_event: u64,
    lex: Lex,
    /// Bytes of the current event the reader consumed.
    event_len: u64,
    /// The current event's last two bytes, for the ends `-->`, `]]>`, `?>`.
    tail: [u8; 2],
    /// The current text holds an `&` not yet closed by `;`.
    open_reference: bool,
    /// Line and column of the current markup's `<`.
    event_start: (u64, u64),
    /// Input bytes read so far, skipped ones included.
    offset: u64,
    line: u64,
    /// Offset of the first byte of the current line.
    line_start: u64,
    /// Input bytes skipped, and bytes shown to the reader in their place:
    /// the reader's positions are off from the input's by the difference.
    skipped: u64,
    replayed: u64,
    /// The line where the last skipped text began, until taken.
    cut: Option<u64>,
    /// The input reported its end.
    at_end: bool,
}

impl Tracker {
    fn count_lines(&mut self, bytes: &[u8]) {
        for index in memchr::memchr_iter(b'\n', bytes) {
            self.line += 1;
            self.line_start = self.offset + index as u64 + 1;
        }
        self.offset += bytes.len() as u64;
    }

    fn column(&self) -> u64 {
        self.offset.saturating_sub(self.line_start) + 1
    }

    /// The current event ended with its last byte; text follows.
    fn end_event(&mut self) {
        self.lex = Lex::Text;
        self.event_len = 0;
        self.tail = [0, 0];
        self.open_reference = false;
    }

    /// Takes `bytes` into the current event (none of them ends it).
    fn extend_event(&mut self, bytes: &[u8]) {
        self.event_len += bytes.len() as u64;
        match bytes {
            [] => {}
            [only] => self.tail = [self.tail[1], *only],
            [.., before, last] => self.tail = [*before, *last],
        }
    }

    /// The byte before `index` in `bytes`, continuing into the tail.
    fn before(&self, bytes: &[u8], index: usize, back: usize) -> u8 {
        if index >= back {
            bytes[index - back]
        } else {
            self.tail[2 - (back - index)]
        }
    }

    /// Follows `bytes` (which the reader just consumed) through the grammar.
    fn advance(&mut self, bytes: &[u8]) {
        let mut index = 0;
        let mut counted = 0;
        while index < bytes.len() {
            let rest = &bytes[index..];
            let used = match self.lex {
                Lex::Text => {
                    let text_end = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                    let text = &rest[..text_end];
                    if let Some(amp) = memchr::memrchr(b'&', text) {
                        self.open_reference = memchr::memchr(b';', &text[amp..]).is_none();
                    } else if self.open_reference {
                        self.open_reference = memchr::memchr(b';', text).is_none();
                    }
                    self.event_len += text.len() as u64;
                    if text_end < rest.len() {
                        // Lines up to the `<`, so the markup knows its line.
                        self.count_lines(&bytes[counted..index + text_end]);
                        counted = index + text_end;
                        self.event_start = (self.line, self.column());
                        self.end_event();
                        self.lex = Lex::Open;
                        self.extend_event(b"<");
                        text_end + 1
                    } else {
                        text_end
                    }
                }
                Lex::Open => {
                    match rest[0] {
                        b'!' => {
                            self.lex = Lex::Bang;
                            self.extend_event(b"!");
                            1
                        }
                        // The `?` is the instruction's own first byte.
                        b'?' => {
                            self.lex = Lex::Instruction;
                            0
                        }
                        _ => {
                            self.lex = Lex::Tag { quote: None };
                            0
                        }
                    }
                }
                Lex::Bang => {
                    self.lex = match rest[0] {
                        b'[' => Lex::CData,
                        b'-' => Lex::Comment,
                        _ => Lex::Doctype,
                    };
                    0
                }
                Lex::Tag { mut quote } => {
                    let mut end = None;
                    for at in memchr::memchr3_iter(b'>', b'\'', b'"', rest) {
                        match (quote, rest[at]) {
                            (None, b'>') => {
                                end = Some(at);
                                break;
                            }
                            (None, mark) => quote = Some(mark),
                            (Some(open), mark) if open == mark => quote = None,
                            _ => {}
                        }
                    }
                    self.lex = Lex::Tag { quote };
                    self.finish_or_extend(rest, end)
                }
                Lex::Instruction => {
                    let end = memchr::memchr_iter(b'>', rest)
                        .find(|&at| self.before(rest, at, 1) == b'?');
                    self.finish_or_extend(rest, end)
                }
                Lex::Comment => {
                    // `<!---->` is the shortest comment: its `>` is at 6.
                    let end = memchr::memchr_iter(b'>', rest).find(|&at| {
                        self.event_len + at as u64 >= 6
                            && self.before(rest, at, 1) == b'-'
                            && self.before(rest, at, 2) == b'-'
                    });
                    self.finish_or_extend(rest, end)
                }
                Lex::CData => {
                    let end = memchr::memchr_iter(b'>', rest).find(|&at| {
                        self.before(rest, at, 1) == b']' && self.before(rest, at, 2) == b']'
                    });
                    self.finish_or_extend(rest, end)
                }
                Lex::Doctype => {
                    self.extend_event(rest);
                    rest.len()
                }
            };
            index += used;
        }
        self.count_lines(&bytes[counted..]);
    }

    /// Ends the event at `end` (its `>`), or takes all of `rest` into it.
    fn finish_or_extend(&mut self, rest: &[u8], end: Option<usize>) -> usize {
        match end {
            Some(at) => {
                self.end_event();
                at + 1
            }
            None => {
                self.extend_event(rest);
                rest.len()
            }
        }
    }
}

/// A [`BufRead`] for quick-xml that bounds every event to `max_event`
/// bytes and tracks lines (see the module documentation).
#[derive(Debug)]
pub struct XmlInput<R> {
    inner: R,
    tracker: Tracker,
    /// Bytes shown to the reader before any more input: the end of an
    /// event whose middle was skipped.
    replay: &'static [u8],
}

impl<R: BufRead> XmlInput<R> {
    pub fn new(inner: R, max_event: u64) -> Self {
        Self {
            inner,
            tracker: Tracker {
                max_event: max_event.max(16),
                lex: Lex::Text,
                event_len: 0,
                tail: [0, 0],
                open_reference: false,
                event_start: (1, 1),
                offset: 0,
                line: 1,
                line_start: 0,
                skipped: 0,
                replayed: 0,
                cut: None,
                at_end: false,
            },
            replay: b"",
        }
    }

    /// Line and column (both from 1) of a position the XML reader reports,
    /// at or after the start of the current line.
    pub fn locate(&self, position: u64) -> (u64, u64) {
        let tracker = &self.tracker;
        let input = (position + tracker.skipped).saturating_sub(tracker.replayed);
        (tracker.line, input.saturating_sub(tracker.line_start) + 1)
    }

    /// Line and column just after the last byte read.
    pub fn end_position(&self) -> (u64, u64) {
        (self.tracker.line, self.tracker.column())
    }

    /// The input has reported its end.
    pub fn at_end(&self) -> bool {
        self.tracker.at_end
    }

    /// The line where text was last cut short, once.
    pub fn take_cut(&mut self) -> Option<u64> {
        self.tracker.cut.take()
    }

    /// The current event is at the bound and goes on: skips the rest of a
    /// text, CDATA section or comment, or refuses anything else.
    fn skip_rest_of_event(&mut self) -> io::Result<()> {
        let tracker = &mut self.tracker;
        let terminator: &'static [u8] = match tracker.lex {
            Lex::Text => b"",
            Lex::CData => b"]]>",
            Lex::Comment => b"-->",
            Lex::Open | Lex::Bang | Lex::Tag { .. } | Lex::Instruction | Lex::Doctype => {
                let (line, column) = tracker.event_start;
                return Err(io::Error::other(MarkupTooLong {
                    line,
                    column,
                    max: tracker.max_event,
                    doctype: tracker.lex == Lex::Doctype,
                }));
            }
        };
        if tracker.lex != Lex::Comment {
            tracker.cut.get_or_insert(tracker.line);
        }
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                tracker.at_end = true;
                // The reader meets the end inside the event, as the input did.
                return Ok(());
            }
            let (discard, found) = match tracker.lex {
                Lex::Text => match memchr::memchr(b'<', available) {
                    Some(at) => (at, true),
                    None => (available.len(), false),
                },
                _ => {
                    let closing = terminator[0];
                    match memchr::memchr_iter(b'>', available).find(|&at| {
                        tracker.before(available, at, 1) == closing
                            && tracker.before(available, at, 2) == closing
                    }) {
                        Some(at) => (at + 1, true),
                        None => (available.len(), false),
                    }
                }
            };
            let discarded = &available[..discard];
            tracker.count_lines(discarded);
            if tracker.lex != Lex::Text {
                // The tail carries a split `]]>` or `-->` to the next chunk.
                let keep_len = tracker.event_len;
                tracker.extend_event(discarded);
                tracker.event_len = keep_len;
            }
            tracker.skipped += discard as u64;
            self.inner.consume(discard);
            if found {
                break;
            }
        }
        if tracker.lex == Lex::Text {
            if tracker.open_reference {
                // The reader holds `&name`: close the reference it is in.
                tracker.open_reference = false;
                self.replay = b";";
            }
        } else {
            tracker.end_event();
            self.replay = terminator;
        }
        Ok(())
    }
}

impl<R: BufRead> Read for XmlInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        buf[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for XmlInput<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            if !self.replay.is_empty() {
                return Ok(self.replay);
            }
            let tracker = &self.tracker;
            let room = tracker.max_event.saturating_sub(tracker.event_len);
            let (length, first) = {
                let available = self.inner.fill_buf()?;
                (available.len(), available.first().copied())
            };
            if length == 0 {
                self.tracker.at_end = true;
                return Ok(&[]);
            }
            // Every event that starts in what is handed over fits in it;
            // the one under way may take `room` more bytes. A text at the
            // bound may still end: its end is the next `<`.
            let allowed = if room > 0 {
                room
            } else if tracker.lex == Lex::Text && first == Some(b'<') {
                tracker.max_event
            } else {
                0
            };
            if allowed > 0 {
                let count = usize::try_from(allowed).unwrap_or(usize::MAX).min(length);
                let available = self.inner.fill_buf()?;
                return Ok(&available[..count]);
            }
            self.skip_rest_of_event()?;
            if self.tracker.at_end && self.replay.is_empty() {
                return Ok(&[]);
            }
        }
    }

    fn consume(&mut self, amount: usize) {
        if !self.replay.is_empty() {
            let amount = amount.min(self.replay.len());
            self.replay = &self.replay[amount..];
            self.tracker.replayed += amount as u64;
            return;
        }
        // The bytes being consumed are still in the buffer: fill_buf does
        // no I/O while unconsumed data remains.
        if let Ok(buffer) = self.inner.fill_buf() {
            let consumed = &buffer[..amount.min(buffer.len())];
            self.tracker.advance(consumed);
        }
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the reader is shown, read in small steps like quick-xml's
    /// reader does over chunk boundaries.
    fn shown(input: &[u8], max: u64, chunk: usize) -> Result<Vec<u8>, io::Error> {
        let inner = io::BufReader::with_capacity(chunk, input);
        let mut xml = XmlInput::new(inner, max);
        let mut out = Vec::new();
        loop {
            let available = xml.fill_buf()?;
            if available.is_empty() {
                return Ok(out);
            }
            let take = available.len().min(chunk.div_ceil(2));
            out.extend_from_slice(&available[..take]);
            xml.consume(take);
        }
    }

    #[test]
    fn documents_within_the_bound_pass_unchanged() {
        let document = br#"<?xml version="1.0"?>
<!-- a comment with > and -- inside -->
<testsuite name="a > b" x='q"'><testcase name="t"><failure><![CDATA[x ] ]> ]]></failure>
<system-out>&amp; &#x41; text</system-out></testcase></testsuite>"#;
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(shown(document, 64, chunk).unwrap(), document, "{chunk}");
        }
    }

    #[test]
    fn a_long_text_is_cut_at_the_bound_and_its_element_still_closes() {
        let mut document = b"<a>".to_vec();
        document.extend(std::iter::repeat_n(b'x', 1000));
        document.extend_from_slice(b"\n</a><b/>");
        for chunk in [1, 5, 64, 4096] {
            let out = shown(&document, 32, chunk).unwrap();
            let mut expected = b"<a>".to_vec();
            expected.extend(std::iter::repeat_n(b'x', 32));
            expected.extend_from_slice(b"</a><b/>");
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{chunk}"
            );
        }
    }

    #[test]
    fn a_cut_reference_is_closed_and_long_cdata_and_comments_keep_their_ends() {
        let mut document = b"<a>".to_vec();
        document.extend(std::iter::repeat_n(b'x', 30));
        document.extend_from_slice(b"&amp;yyyyyyyyyyyyyyyyyy</a>");
        let out = shown(&document, 32, 4).unwrap();
        assert!(
            out.ends_with(b"xx&a;</a>"),
            "{}",
            String::from_utf8_lossy(&out)
        );

        let mut document = b"<a><![CDATA[".to_vec();
        document.extend(std::iter::repeat_n(b']', 100));
        document.extend_from_slice(b"]]><!--");
        document.extend(std::iter::repeat_n(b'-', 100));
        document.extend_from_slice(b"--></a>");
        let mut expected = b"<a><![CDATA[".to_vec();
        expected.extend(std::iter::repeat_n(b']', 32 - 9));
        expected.extend_from_slice(b"]]><!--");
        expected.extend(std::iter::repeat_n(b'-', 32 - 4));
        expected.extend_from_slice(b"--></a>");
        for chunk in [1, 3, 4096] {
            let out = shown(&document, 32, chunk).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{chunk}"
            );
        }
    }

    #[test]
    fn a_long_tag_or_doctype_is_refused_where_it_starts() {
        let mut document = b"<a>\n  <b name=\"".to_vec();
        document.extend(std::iter::repeat_n(b'n', 100));
        document.extend_from_slice(b"\"/></a>");
        let error = shown(&document, 32, 8).unwrap_err();
        let refused = markup_too_long(&error).expect("markup too long");
        assert_eq!(
            (refused.line, refused.column, refused.doctype),
            (2, 3, false)
        );

        let mut document = b"<!DOCTYPE x [".to_vec();
        document.extend(std::iter::repeat_n(b' ', 100));
        let error = shown(&document, 32, 8).unwrap_err();
        assert!(markup_too_long(&error).unwrap().doctype);
    }

    #[test]
    fn positions_count_skipped_lines() {
        let mut document = b"<a>".to_vec();
        document.extend(b"line\n".repeat(100));
        document.extend_from_slice(b"</a>");
        let mut xml = XmlInput::new(io::BufReader::with_capacity(16, &document[..]), 32);
        let mut sink = Vec::new();
        xml.read_to_end(&mut sink).unwrap();
        assert_eq!(xml.end_position(), (101, 5));
        assert_eq!(xml.take_cut(), Some(7));
        assert_eq!(xml.take_cut(), None);
    }
}
