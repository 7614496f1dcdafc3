//! A reader that turns CRLF and lone CR line endings into LF before the CSV parser sees them.
//!
//! Why: the csv crate records a row's position before it consumes the `\n` left over from the
//! previous row's `\r\n`, so in a Windows file every row after the first would be reported one
//! line too early; and it ends a record at a lone `\r` (old Mac exports, "CSV (Macintosh)")
//! without counting a line, so every row of such a file would be reported on line 1, and rows
//! sharing a line would share one outcome in the ledger. With LF endings its line numbers are
//! exact, so we give it LF endings. A `\r\n` or a lone `\r` inside a quoted field becomes `\n`
//! as well.

use std::io::{self, Read};

const CHUNK: usize = 64 * 1024;

pub(super) struct CrlfToLf<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The previous chunk ended with `\r`: emit it unless the next byte is `\n`.
    pending_cr: bool,
}

impl<R: Read> CrlfToLf<R> {
    pub(super) fn new(inner: R) -> Self {
        CrlfToLf {
            inner,
            buf: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            pending_cr: false,
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start == self.end {
                let n = self.inner.read(&mut self.buf)?;
                if n == 0 {
                    if std::mem::take(&mut self.pending_cr) {
                        out[0] = b'\n';
                        return Ok(1);
                    }
                    return Ok(0);
                }
                self.start = 0;
                self.end = n;
            }
            let mut written = 0;
            if std::mem::take(&mut self.pending_cr) && self.buf[self.start] != b'\n' {
                out[0] = b'\n';
                written = 1;
            }
            while written < out.len() && self.start < self.end {
                let avail = &self.buf[self.start..self.end];
                let room = out.len() - written;
                let scan = &avail[..avail.len().min(room)];
                // memchr: most chunks hold no \r at all, and a byte loop was a fifth of parsing.
                match memchr::memchr(b'\r', scan) {
                    None => {
                        out[written..written + scan.len()].copy_from_slice(scan);
                        written += scan.len();
                        self.start += scan.len();
                    }
                    Some(i) => {
                        out[written..written + i].copy_from_slice(&scan[..i]);
                        written += i;
                        self.start += i + 1; // past the \r
                        match avail.get(i + 1) {
                            // \r\n: drop the \r, the \n is copied next.
                            Some(b'\n') => {}
                            // A lone \r: a line ending of its own.
                            Some(_) => {
                                if written < out.len() {
                                    out[written] = b'\n';
                                    written += 1;
                                } else {
                                    self.start -= 1; // emit it on the next call
                                    break;
                                }
                            }
                            // The chunk ends with \r: decide with the next chunk.
                            None => self.pending_cr = true,
                        }
                    }
                }
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader handing out at most `n` bytes per call, to exercise chunk boundaries.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn convert(input: &[u8], chunk: usize, out_size: usize) -> Vec<u8> {
        let mut r = CrlfToLf::new(Trickle(input, chunk));
        let mut all = Vec::new();
        let mut buf = vec![0; out_size];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn crlf_and_lone_cr_become_lf_at_any_boundary() {
        let input = b"a,b\r\n1,\"x\r\ny\"\r\n\r\n2,c\rd\r";
        let expected = b"a,b\n1,\"x\ny\"\n\n2,c\nd\n";
        for chunk in 1..8 {
            for out_size in 1..8 {
                assert_eq!(
                    convert(input, chunk, out_size),
                    expected,
                    "chunk {chunk}, out {out_size}"
                );
            }
        }
        assert_eq!(convert(input, 1000, 1000), expected);
        assert_eq!(convert(b"plain\nlf\n", 3, 2), b"plain\nlf\n");
    }
}
