//! Hadoop's Snappy block format (`BlockCompressorStream`, what Hadoop-compatible Firehose
//! Snappy writes): blocks of `[uncompressed length, 4 bytes big-endian]` followed by chunks of
//! `[compressed length, 4 bytes big-endian][raw Snappy]` until the block's length is reached.
//! No magic number: a `.snappy` object without the framing format's stream identifier.

use std::io::{self, Read};

/// Largest block or chunk accepted: Hadoop writes 256 KiB blocks by default.
const MAX_BLOCK: usize = 64 * 1024 * 1024;

pub struct HadoopSnappy<R> {
    inner: R,
    out: Vec<u8>,
    at: usize,
    block_left: usize,
    compressed: Vec<u8>,
    decoder: snap::raw::Decoder,
}

impl<R: Read> HadoopSnappy<R> {
    pub fn new(inner: R) -> Self {
        HadoopSnappy {
            inner,
            out: Vec::new(),
            at: 0,
            block_left: 0,
            compressed: Vec::new(),
            decoder: snap::raw::Decoder::new(),
        }
    }

    /// A length field; `None` at a clean end of the stream (only before a block).
    fn length(&mut self, at_block_start: bool) -> io::Result<Option<usize>> {
        let mut field = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.inner.read(&mut field[got..])? {
                0 if got == 0 && at_block_start => return Ok(None),
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => got += n,
            }
        }
        let n = u32::from_be_bytes(field) as usize;
        if n > MAX_BLOCK {
            return Err(invalid(format!("a block or chunk of {n} bytes")));
        }
        Ok(Some(n))
    }

    /// Decompress the next chunk into `out`; false at the end of the stream.
    fn next_chunk(&mut self) -> io::Result<bool> {
        while self.block_left == 0 {
            match self.length(true)? {
                None => return Ok(false),
                Some(n) => self.block_left = n,
            }
        }
        let size = self.length(false)?.expect("not at a block start");
        self.compressed.resize(size, 0);
        self.inner.read_exact(&mut self.compressed)?;
        let len = snap::raw::decompress_len(&self.compressed).map_err(snappy)?;
        if len > self.block_left {
            return Err(invalid("a chunk longer than its block".into()));
        }
        self.out.resize(len, 0);
        self.decoder
            .decompress(&self.compressed, &mut self.out)
            .map_err(snappy)?;
        self.block_left -= len;
        self.at = 0;
        Ok(true)
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn snappy(e: snap::Error) -> io::Error {
    invalid(e.to_string())
}

impl<R: Read> Read for HadoopSnappy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
pub fn encode(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in data.chunks(block.max(1)) {
        out.extend((part.len() as u32).to_be_bytes());
        // Two chunks per block, as a stream with a smaller buffer writes them.
        let (a, b) = part.split_at(part.len() / 2);
        for chunk in [a, b].into_iter().filter(|c| !c.is_empty()) {
            let compressed = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            out.extend((compressed.len() as u32).to_be_bytes());
            out.extend(compressed);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_chunks_read_back() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut out = Vec::new();
        HadoopSnappy::new(&encode(&data, 65536)[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let mut empty = Vec::new();
        HadoopSnappy::new(&[][..]).read_to_end(&mut empty).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn cut_or_corrupt_streams_are_errors() {
        let data = b"hello hadoop snappy ".repeat(1000);
        let whole = encode(&data, 4096);
        let cut = &whole[..whole.len() - 3];
        assert!(HadoopSnappy::new(cut).read_to_end(&mut Vec::new()).is_err());
        let mut bad = whole.clone();
        bad[9] ^= 0xff;
        bad[10] ^= 0xff;
        assert!(HadoopSnappy::new(&bad[..])
            .read_to_end(&mut Vec::new())
            .is_err());
        let huge = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0];
        assert!(HadoopSnappy::new(&huge[..])
            .read_to_end(&mut Vec::new())
            .is_err());
    }
}
