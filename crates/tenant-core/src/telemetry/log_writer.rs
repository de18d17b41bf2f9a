//! Log lines leave the process in batches, written by a thread of their own.
//!
//! A request formats its line and appends it to a shared buffer: no write
//! call and no wake-up of another thread per line. The writer thread is
//! woken by the first line after it emptied the buffer, gathers what comes
//! in the next [`GATHER`] (or until [`BATCH_BYTES`] are waiting) and writes
//! it all at once (a channel with a line per message woke the writer thread
//! and made a write call for every line; docs/benchmarks.md has what each
//! way measured).
//!
//! No line is dropped: past [`MAX_BUFFERED_BYTES`] a line waits for the
//! writer to make room. Dropping the [`LogWriterGuard`] writes what is left.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer gathers lines after the first one of a batch: the
/// most a line waits before it is written.
pub const GATHER: Duration = Duration::from_millis(10);

/// Waiting lines of this many bytes are written without waiting out [`GATHER`].
pub const BATCH_BYTES: usize = 64 * 1024;

/// Waiting lines past this many bytes hold the next line back until the
/// writer has made room (a stalled stdout slows logging callers rather
/// than growing memory or losing lines).
pub const MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    stopping: bool,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// The writer waits on it for lines; callers wait on it for room.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut pending = self.lock();
        while !pending.bytes.is_empty()
            && pending.bytes.len() + line.len() > MAX_BUFFERED_BYTES
            && !pending.stopping
        {
            pending = self
                .changed
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = pending.bytes.len();
        pending.bytes.extend_from_slice(line);
        // Only the line that starts a batch, and the one that fills it,
        // wake the writer.
        let filled = before < BATCH_BYTES && pending.bytes.len() >= BATCH_BYTES;
        drop(pending);
        if before == 0 || filled {
            self.changed.notify_all();
        }
    }

    /// The next batch, swapped out of the buffer into `batch`; `false`
    /// once stopping with nothing left.
    fn next_batch(&self, batch: &mut Vec<u8>) -> bool {
        let mut pending = self.lock();
        pending = self
            .changed
            .wait_while(pending, |p| p.bytes.is_empty() && !p.stopping)
            .unwrap_or_else(PoisonError::into_inner);
        if pending.bytes.is_empty() {
            return false;
        }
        pending = self
            .changed
            .wait_timeout_while(pending, GATHER, |p| {
                p.bytes.len() < BATCH_BYTES && !p.stopping
            })
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        std::mem::swap(&mut pending.bytes, batch);
        drop(pending);
        // Callers waiting for room.
        self.changed.notify_all();
        true
    }
}

/// The `MakeWriter` of the log layer: each line goes into the shared buffer.
#[derive(Debug, Clone)]
pub struct BatchedLogWriter {
    shared: Arc<Shared>,
}

/// Stops the writer thread after it has written every waiting line.
#[derive(Debug)]
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the writer thread on `out`.
pub fn batched<W: Write + Send + 'static>(
    mut out: W,
) -> io::Result<(BatchedLogWriter, LogWriterGuard)> {
    let shared = Arc::new(Shared::default());
    let writer_side = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            let mut batch = Vec::with_capacity(BATCH_BYTES);
            while writer_side.next_batch(&mut batch) {
                // Nowhere left to report a failed write to: the lines go.
                let _ = out.write_all(&batch).and_then(|()| out.flush());
                batch.clear();
            }
        })?;
    Ok((
        BatchedLogWriter {
            shared: Arc::clone(&shared),
        },
        LogWriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// One line's writer, handed out by [`BatchedLogWriter`].
#[derive(Debug)]
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedLogWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;

    /// A sink that records each write call, and holds writes back while
    /// its gate is closed.
    #[derive(Debug, Clone)]
    struct Sink {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Sink {
        fn new(open: bool) -> Self {
            Self {
                writes: Arc::default(),
                gate: Arc::new((Mutex::new(open), Condvar::new())),
            }
        }

        fn open(&self) {
            *self.gate.0.lock().unwrap() = true;
            self.gate.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(self.writes.lock().unwrap().concat()).unwrap()
        }
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let (open, opened) = &*self.gate;
            drop(
                opened
                    .wait_while(open.lock().unwrap(), |open| !*open)
                    .unwrap(),
            );
            self.writes.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn line(i: usize) -> String {
        format!("{{\"line\":{i}}}\n")
    }

    fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::yield_now();
        }
    }

    #[test]
    fn lines_are_written_in_order_in_few_writes_and_all_by_the_guards_drop() {
        let sink = Sink::new(true);
        let (writer, guard) = batched(sink.clone()).unwrap();
        for i in 0..10_000 {
            writer.make_writer().write_all(line(i).as_bytes()).unwrap();
        }
        drop(guard);
        let expected: String = (0..10_000).map(line).collect();
        assert_eq!(sink.text(), expected);
        let writes = sink.writes.lock().unwrap().len();
        assert!(writes < 1_000, "{writes} write calls for 10,000 lines");
    }

    #[test]
    fn a_line_is_written_soon_without_more_lines_after_it() {
        let sink = Sink::new(true);
        let (writer, _guard) = batched(sink.clone()).unwrap();
        writer.make_writer().write_all(b"alone\n").unwrap();
        eventually("the line was not written", || !sink.text().is_empty());
        assert_eq!(sink.text(), "alone\n");
    }

    #[test]
    fn a_stalled_sink_holds_callers_back_instead_of_losing_lines_or_growing_past_the_bound() {
        let sink = Sink::new(false);
        let (writer, guard) = batched(sink.clone()).unwrap();
        let big = "x".repeat(1024 * 1024 - 1) + "\n";
        let produced = Arc::new(AtomicUsize::new(0));
        let producer = {
            let (writer, big, produced) = (writer.clone(), big.clone(), produced.clone());
            std::thread::spawn(move || {
                for _ in 0..24 {
                    writer.make_writer().write_all(big.as_bytes()).unwrap();
                    produced.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // One line is held in the stalled write, the bound's worth waits.
        eventually("the buffer did not fill up to its bound", || {
            writer.shared.lock().bytes.len() == MAX_BUFFERED_BYTES
        });
        assert!(
            produced.load(Ordering::SeqCst) < 24,
            "the caller was not held back"
        );
        sink.open();
        producer.join().unwrap();
        drop(guard);
        assert_eq!(sink.text().len(), 24 * big.len());
        let largest = sink.writes.lock().unwrap().iter().map(Vec::len).max();
        assert!(largest.is_some_and(|l| l <= MAX_BUFFERED_BYTES));
    }
}
