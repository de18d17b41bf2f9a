//! A zip archive read front to back while it arrives, one entry at a time.
//!
//! A zip archive's directory is at its end, so a reader that trusts it
//! must hold (or spool) the whole archive first, and a directory of a
//! million entries is a million records in memory before the first one is
//! checked. The entries themselves are also described by local headers in
//! front of their data; reading those in order needs no seeking, holds one
//! entry at a time and can count entries as they come. The directory is
//! then read past like any trailing bytes.
//!
//! Entries may be stored or deflated. A deflated entry whose sizes follow
//! its data (a "data descriptor", as streaming writers such as Java's
//! `ZipOutputStream` produce) is read to the end of its deflate stream,
//! which marks its own end. A stored entry has no such end, so one without
//! sizes in its header is refused, as are encrypted entries and other
//! compression methods. Each entry's CRC-32 and size are checked, so an
//! archive cut off or corrupted in an entry is refused rather than read in
//! part.

use std::io::{self, BufRead, Read, Take};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END_OF_DIRECTORY: u32 = 0x0606_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const ZIP64_EXTRA: u16 = 0x0001;

const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("the archive holds more than {max} entries")]
    TooManyEntries { max: u64 },
    #[error("`{name}` is {size} bytes uncompressed, more than {max}")]
    EntryTooLarge { name: String, size: u64, max: u64 },
    /// Not a zip archive, or one this reader cannot take; the text says why.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn invalid(text: impl Into<String>) -> ZipError {
    ZipError::Invalid(text.into())
}

/// Little-endian fields from a fixed-size header.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.0[at], self.0[at + 1]])
    }

    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }

    fn u64(&self, at: usize) -> u64 {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&self.0[at..at + 8]);
        u64::from_le_bytes(bytes)
    }
}

fn read_u32<R: Read>(input: &mut R) -> io::Result<u32> {
    let mut bytes = [0; 4];
    input.read_exact(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64<R: Read>(input: &mut R) -> io::Result<u64> {
    let mut bytes = [0; 8];
    input.read_exact(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// The next four bytes, or `None` at the end of the input.
fn read_signature<R: Read>(input: &mut R) -> io::Result<Option<u32>> {
    let mut bytes = [0; 4];
    let mut filled = 0;
    while filled < bytes.len() {
        match input.read(&mut bytes[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(Some(u32::from_le_bytes(bytes)))
}

/// What a local header says about its entry.
#[derive(Debug, Clone)]
pub struct EntryHeader {
    pub name: String,
    method: u16,
    /// Sizes and CRC follow the data.
    descriptor: bool,
    zip64: bool,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
}

impl EntryHeader {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// The entries of an archive, in order.
#[derive(Debug)]
pub struct ZipEntries<R> {
    input: R,
    max_entries: u64,
    max_entry_bytes: u64,
    entries: u64,
    /// An entry was handed out and not finished.
    open: bool,
    /// The next signature, read already while looking for a descriptor.
    next_signature: Option<u32>,
    done: bool,
}

impl<R: BufRead> ZipEntries<R> {
    pub fn new(input: R, max_entries: u64, max_entry_bytes: u64) -> Self {
        Self {
            input,
            max_entries,
            max_entry_bytes,
            entries: 0,
            open: false,
            next_signature: None,
            done: false,
        }
    }

    /// Gives the input back, positioned after the last entry.
    pub fn into_inner(self) -> R {
        self.input
    }

    /// The next entry, or `None` once the central directory is reached.
    pub fn next_entry(&mut self) -> Result<Option<ZipEntry<'_, R>>, ZipError> {
        if self.open {
            return Err(invalid("an entry was not read to its end"));
        }
        if self.done {
            return Ok(None);
        }
        let signature = match self.next_signature.take() {
            Some(signature) => Some(signature),
            None => read_signature(&mut self.input)?,
        };
        match signature {
            Some(LOCAL_HEADER) => {}
            Some(CENTRAL_HEADER | END_OF_DIRECTORY | ZIP64_END_OF_DIRECTORY) => {
                self.done = true;
                return Ok(None);
            }
            Some(_) if self.entries == 0 => {
                return Err(invalid(
                    "not a zip archive, or one with data before its first entry",
                ));
            }
            Some(_) => {
                return Err(invalid(format!(
                    "unexpected bytes after entry {}",
                    self.entries
                )));
            }
            None => {
                return Err(invalid(format!(
                    "the archive ends after {} entries, before its directory",
                    self.entries
                )));
            }
        }
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(ZipError::TooManyEntries {
                max: self.max_entries,
            });
        }
        let header = self.read_local_header()?;
        if !header.descriptor && header.uncompressed > self.max_entry_bytes {
            return Err(ZipError::EntryTooLarge {
                name: header.name,
                size: header.uncompressed,
                max: self.max_entry_bytes,
            });
        }
        // A deflate stream marks its own end; stored data is as long as
        // its header says (a folder's, none).
        let limit = match (header.method, header.descriptor) {
            (DEFLATED, true) => u64::MAX,
            (STORED, true) => 0,
            _ => header.compressed,
        };
        let raw = (&mut self.input).take(limit);
        let data = match header.method {
            STORED => EntryData::Stored(raw),
            _ => EntryData::Deflated(flate2::bufread::DeflateDecoder::new(raw)),
        };
        self.open = true;
        Ok(Some(ZipEntry {
            header,
            data: Some(data),
            crc: crc32fast::Hasher::new(),
            produced: 0,
            open: &mut self.open,
            next_signature: &mut self.next_signature,
        }))
    }

    fn read_local_header(&mut self) -> Result<EntryHeader, ZipError> {
        let mut fixed = [0; 26];
        self.input.read_exact(&mut fixed)?;
        let fields = Fields(&fixed);
        let flags = fields.u16(2);
        let method = fields.u16(4);
        let mut crc = fields.u32(10);
        let mut compressed = u64::from(fields.u32(14));
        let mut uncompressed = u64::from(fields.u32(18));
        let mut name = vec![0; usize::from(fields.u16(22))];
        let mut extra = vec![0; usize::from(fields.u16(24))];
        self.input.read_exact(&mut name)?;
        self.input.read_exact(&mut extra)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if flags & FLAG_ENCRYPTED != 0 {
            return Err(invalid(format!("`{name}` is encrypted")));
        }
        if method != STORED && method != DEFLATED {
            return Err(invalid(format!(
                "`{name}` is compressed with method {method}; only stored and deflated entries are read"
            )));
        }
        let mut zip64 = false;
        let mut rest = &extra[..];
        while rest.len() >= 4 {
            let id = u16::from_le_bytes([rest[0], rest[1]]);
            let size = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
            let body = rest.get(4..4 + size).unwrap_or(&[]);
            if id == ZIP64_EXTRA {
                zip64 = true;
                let mut values = body.chunks_exact(8).map(|value| Fields(value).u64(0));
                if uncompressed == u64::from(u32::MAX) {
                    uncompressed = values.next().unwrap_or(uncompressed);
                }
                if compressed == u64::from(u32::MAX) {
                    compressed = values.next().unwrap_or(compressed);
                }
            }
            rest = rest.get(4 + size..).unwrap_or(&[]);
        }
        let mut descriptor = flags & FLAG_DATA_DESCRIPTOR != 0;
        if descriptor && method == STORED && !name.ends_with('/') {
            // Some writers put the sizes in the header as well. (A folder
            // has no data whatever its header says.)
            if compressed == 0 {
                return Err(invalid(format!(
                    "`{name}` is stored without its size in its header; the archive cannot be read as it arrives (deflate it, or write it to a file first)"
                )));
            }
            descriptor = false;
        }
        if descriptor {
            crc = 0;
        }
        Ok(EntryHeader {
            name,
            method,
            descriptor,
            zip64,
            crc,
            compressed,
            uncompressed,
        })
    }
}

#[derive(Debug)]
enum EntryData<'a, R> {
    Stored(Take<&'a mut R>),
    Deflated(flate2::bufread::DeflateDecoder<Take<&'a mut R>>),
}

/// One entry's uncompressed bytes. Read it to its end, then
/// [`finish`](Self::finish) it, which checks its size and CRC-32.
pub struct ZipEntry<'a, R> {
    pub header: EntryHeader,
    data: Option<EntryData<'a, R>>,
    crc: crc32fast::Hasher,
    produced: u64,
    open: &'a mut bool,
    next_signature: &'a mut Option<u32>,
}

impl<R> std::fmt::Debug for ZipEntry<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipEntry")
            .field("header", &self.header)
            .field("produced", &self.produced)
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> Read for ZipEntry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match self.data.as_mut() {
            Some(EntryData::Stored(data)) => data.read(buf)?,
            Some(EntryData::Deflated(data)) => data.read(buf)?,
            None => 0,
        };
        if read == 0 && !buf.is_empty() {
            self.check_not_cut_off()?;
        }
        self.crc.update(&buf[..read]);
        self.produced += read as u64;
        Ok(read)
    }
}

impl<'a, R: BufRead> ZipEntry<'a, R> {
    /// A stored entry's data must be as long as its header says; the input
    /// ending first is an archive cut off.
    fn check_not_cut_off(&self) -> io::Result<()> {
        if let Some(EntryData::Stored(data)) = &self.data
            && data.limit() > 0
        {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Checks the entry once it was read to its end: the size and CRC-32
    /// against its header or its data descriptor.
    pub fn finish(mut self) -> Result<(), ZipError> {
        let mut probe = [0; 1];
        if self.read(&mut probe)? != 0 {
            return Err(invalid(format!(
                "`{}` was not read to its end",
                self.header.name
            )));
        }
        let mut raw = match self.data.take() {
            Some(EntryData::Stored(data)) => data,
            Some(EntryData::Deflated(data)) => data.into_inner(),
            None => return Ok(()),
        };
        if !self.header.descriptor {
            // Deflate data ends itself; what is left of the stated size is padding.
            io::copy(&mut raw, &mut io::sink())?;
        }
        let input = raw.into_inner();
        let header = &self.header;
        let (crc, uncompressed) = if header.descriptor {
            let mut crc = read_u32(input)?;
            if crc == DATA_DESCRIPTOR {
                crc = read_u32(input)?;
            } else if header.is_dir() && matches!(crc, LOCAL_HEADER | CENTRAL_HEADER) {
                // A folder flagged for a descriptor some writers leave out.
                *self.next_signature = Some(crc);
                *self.open = false;
                return Ok(());
            }
            let uncompressed = if header.zip64 {
                let _compressed = read_u64(input)?;
                read_u64(input)?
            } else {
                let _compressed = read_u32(input)?;
                u64::from(read_u32(input)?)
            };
            (crc, uncompressed)
        } else {
            (header.crc, header.uncompressed)
        };
        let computed = self.crc.clone().finalize();
        if computed != crc || self.produced != uncompressed {
            return Err(invalid(format!(
                "`{}` is corrupt (its size or CRC-32 does not match its data)",
                header.name
            )));
        }
        *self.open = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn archive(files: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in files {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    /// Like a streaming writer: sizes and CRC in a data descriptor.
    fn streamed_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new_stream(Vec::new());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            if name.ends_with('/') {
                writer.add_directory(*name, options).unwrap();
            } else {
                writer.start_file(*name, options).unwrap();
                writer.write_all(bytes).unwrap();
            }
        }
        writer.finish().unwrap().into_inner()
    }

    fn read_all(bytes: &[u8], max_entries: u64) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
        let mut entries =
            ZipEntries::new(io::BufReader::with_capacity(7, bytes), max_entries, 1 << 20);
        let mut out = Vec::new();
        while let Some(mut entry) = entries.next_entry()? {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            let name = entry.header.name.clone();
            entry.finish()?;
            out.push((name, data));
        }
        Ok(out)
    }

    #[test]
    fn stored_deflated_and_streamed_entries_are_read_in_order() {
        let files: [(&str, &[u8]); 3] = [("a.xml", b"<a/>"), ("d/", b""), ("b.xml", &[b'x'; 5000])];
        for bytes in [
            archive(&files, zip::CompressionMethod::Stored),
            archive(&files, zip::CompressionMethod::Deflated),
        ] {
            let read = read_all(&bytes, 10).unwrap();
            let names: Vec<_> = read.iter().map(|(n, d)| (n.as_str(), d.len())).collect();
            assert_eq!(names, [("a.xml", 4), ("d/", 0), ("b.xml", 5000)]);
        }
        let streamed = streamed_archive(&[
            ("d/", b""),
            ("a.xml", b"<a/>"),
            ("b.xml", &[b'y'; 70_000]),
            ("c.txt", b"c"),
        ]);
        let read = read_all(&streamed, 10).unwrap();
        let names: Vec<_> = read.iter().map(|(n, d)| (n.as_str(), d.len())).collect();
        assert_eq!(
            names,
            [("d/", 0), ("a.xml", 4), ("b.xml", 70_000), ("c.txt", 1)]
        );
    }

    #[test]
    fn more_entries_than_allowed_are_refused_as_they_come() {
        let files: Vec<(String, Vec<u8>)> = (0..20)
            .map(|i| (format!("{i}.xml"), b"<a/>".to_vec()))
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let bytes = archive(&refs, zip::CompressionMethod::Deflated);
        assert!(read_all(&bytes, 20).is_ok());
        assert!(matches!(
            read_all(&bytes, 19),
            Err(ZipError::TooManyEntries { max: 19 })
        ));
    }

    #[test]
    fn cut_off_corrupt_and_foreign_archives_are_refused() {
        let bytes = archive(
            &[("a.xml", &[b'z'; 3000])],
            zip::CompressionMethod::Deflated,
        );
        let directory = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        // Cut in the header, in the data, or before the directory. (Cut in
        // the directory, every entry was whole and checked already.)
        for cut in [10, 40, directory / 2, directory - 1, directory] {
            assert!(read_all(&bytes[..cut], 10).is_err(), "cut at {cut}");
        }
        assert!(read_all(&bytes[..directory + 10], 10).is_ok());
        let stored = archive(
            &[("a.xml", b"<testsuite/>")],
            zip::CompressionMethod::Stored,
        );
        let mut corrupt = stored.clone();
        let at = corrupt.windows(4).position(|w| w == b"test").unwrap();
        corrupt[at] = b'b';
        assert!(matches!(read_all(&corrupt, 10), Err(ZipError::Invalid(_))));
        assert!(matches!(
            read_all(b"<testsuite/>", 10),
            Err(ZipError::Invalid(_))
        ));
        assert!(read_all(&[], 10).is_err());
    }

    #[test]
    fn an_entry_declaring_more_than_the_entry_limit_is_refused_before_reading() {
        let bytes = archive(
            &[("big.xml", &[b' '; 4096])],
            zip::CompressionMethod::Deflated,
        );
        let mut entries = ZipEntries::new(&bytes[..], 10, 1000);
        match entries.next_entry() {
            Err(ZipError::EntryTooLarge { name, size, max }) => {
                assert_eq!((name.as_str(), size, max), ("big.xml", 4096, 1000));
            }
            other => panic!("{other:?}"),
        }
    }
}
