//! Request body framing (RFC 9112 §6, §7.1): finds where a body ends so it can be discarded
//! and the next pipelined request read from the right byte.
//!
//! The decoder is fed whatever bytes are buffered and says how many belong to the body. It never
//! copies or keeps body bytes, so its memory is constant whatever the body's size.

use crate::http::parse::{Framing, ParseError};
use crate::limits::{MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES};

/// Where a body decoder is, between calls to `consume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecoder {
    /// Content-Length framing: this many bytes still to skip.
    Length {
        remaining: u64,
    },
    Chunked(Chunked),
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    state: ChunkState,
    /// Data bytes seen so far, checked against the body limit.
    total: u64,
    /// Bytes of the current size line or trailer section, checked against their limits.
    line_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data { remaining: u64 },
    DataEnd,
    Trailers,
}

/// The result of feeding bytes to a decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes at the front of the input that belonged to the body.
    pub consumed: usize,
    /// The body has ended.
    pub done: bool,
}

impl BodyDecoder {
    pub fn new(framing: Framing) -> BodyDecoder {
        match framing {
            Framing::None | Framing::Length(0) => BodyDecoder::Done,
            Framing::Length(remaining) => BodyDecoder::Length { remaining },
            Framing::Chunked => BodyDecoder::Chunked(Chunked {
                state: ChunkState::Size,
                total: 0,
                line_bytes: 0,
            }),
        }
    }

    /// Consumes the body bytes at the front of `input`. Bytes after the body are left alone.
    pub fn consume(&mut self, input: &[u8], max_body: u64) -> Result<Progress, ParseError> {
        let progress = match self {
            BodyDecoder::Done => Progress {
                consumed: 0,
                done: true,
            },
            BodyDecoder::Length { remaining } => {
                let take = (*remaining).min(input.len() as u64);
                *remaining -= take;
                Progress {
                    consumed: take as usize,
                    done: *remaining == 0,
                }
            }
            BodyDecoder::Chunked(chunked) => chunked.consume(input, max_body)?,
        };
        if progress.done {
            *self = BodyDecoder::Done;
        }
        Ok(progress)
    }
}

impl Chunked {
    fn consume(&mut self, input: &[u8], max_body: u64) -> Result<Progress, ParseError> {
        let mut at = 0;
        loop {
            let rest = &input[at..];
            match self.state {
                ChunkState::Size => {
                    let Some(line_len) = self.complete_line(rest, MAX_CHUNK_LINE_BYTES)? else {
                        return Ok(Progress {
                            consumed: at,
                            done: false,
                        });
                    };
                    let size = parse_chunk_size(&rest[..line_len - 2])?;
                    at += line_len;
                    self.line_bytes = 0;
                    self.total = self.total.saturating_add(size);
                    if self.total > max_body {
                        return Err(ParseError::BodyTooLarge);
                    }
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data { remaining: size }
                    };
                }
                ChunkState::Data { remaining } => {
                    let take = remaining.min(rest.len() as u64);
                    at += take as usize;
                    if take < remaining {
                        self.state = ChunkState::Data {
                            remaining: remaining - take,
                        };
                        return Ok(Progress {
                            consumed: at,
                            done: false,
                        });
                    }
                    self.state = ChunkState::DataEnd;
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|&b| b != b'\r') {
                            return Err(ParseError::Malformed("chunk data not followed by CRLF"));
                        }
                        return Ok(Progress {
                            consumed: at,
                            done: false,
                        });
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ParseError::Malformed("chunk data not followed by CRLF"));
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    // Each trailer line is read and dropped; an empty line ends the message.
                    let Some(line_len) = self.complete_line(rest, MAX_TRAILER_BYTES)? else {
                        return Ok(Progress {
                            consumed: at,
                            done: false,
                        });
                    };
                    let line = &rest[..line_len - 2];
                    at += line_len;
                    if line.is_empty() {
                        return Ok(Progress {
                            consumed: at,
                            done: true,
                        });
                    }
                    if !is_trailer_field(line) {
                        return Err(ParseError::Malformed("invalid trailer field"));
                    }
                }
            }
        }
    }

    /// Length of the CRLF-terminated line at the front of `rest` (CRLF included), or `None` if
    /// it is not complete yet. `line_bytes` carries the length seen by earlier calls so the limit
    /// covers the whole line, or the whole trailer section.
    fn complete_line(&mut self, rest: &[u8], limit: usize) -> Result<Option<usize>, ParseError> {
        match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                if lf == 0 || rest[lf - 1] != b'\r' {
                    return Err(ParseError::Malformed("bare LF in chunked framing"));
                }
                if self.line_bytes + lf + 1 > limit {
                    return Err(ParseError::Malformed("chunk line too long"));
                }
                if self.state == ChunkState::Trailers {
                    self.line_bytes += lf + 1;
                }
                Ok(Some(lf + 1))
            }
            None => {
                if self.line_bytes + rest.len() > limit {
                    return Err(ParseError::Malformed("chunk line too long"));
                }
                Ok(None)
            }
        }
    }
}

/// chunk-size [ chunk-ext ] (RFC 9112 §7.1.1), without the CRLF.
fn parse_chunk_size(line: &[u8]) -> Result<u64, ParseError> {
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, extension) = line.split_at(digits_end);
    if digits.is_empty() {
        return Err(ParseError::Malformed("missing chunk size"));
    }
    let mut size: u64 = 0;
    for &digit in digits {
        let value = (digit as char).to_digit(16).unwrap_or(0);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(value)))
            .ok_or(ParseError::Malformed("chunk size overflows"))?;
    }
    // BWS ";" ext-name [ BWS "=" BWS ext-val ]: we ignore extensions, but they must at least
    // start with ';' and hold no control bytes.
    let extension = extension.trim_ascii_start();
    if !extension.is_empty()
        && (extension[0] != b';'
            || extension
                .iter()
                .any(|&b| b.is_ascii_control() && b != b'\t'))
    {
        return Err(ParseError::Malformed("invalid chunk extension"));
    }
    Ok(size)
}

/// field-name ":" field-value, with no control bytes but HTAB.
fn is_trailer_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name_ok = colon > 0 && line[..colon].iter().all(|&b| is_token_byte(b));
    name_ok
        && line[colon + 1..]
            .iter()
            .all(|&b| !b.is_ascii_control() || b == b'\t')
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_whole(framing: Framing, input: &[u8]) -> Result<Progress, ParseError> {
        BodyDecoder::new(framing).consume(input, 1 << 20)
    }

    /// Feeds the input one byte at a time and returns the total consumed when done.
    fn decode_bytewise(framing: Framing, input: &[u8]) -> Result<usize, ParseError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut pending: Vec<u8> = Vec::new();
        let mut consumed = 0;
        for &b in input {
            pending.push(b);
            let progress = decoder.consume(&pending, 1 << 20)?;
            pending.drain(..progress.consumed);
            consumed += progress.consumed;
            if progress.done {
                return Ok(consumed);
            }
        }
        Ok(consumed)
    }

    #[test]
    fn chunked_body_ends_exactly() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET";
        let progress = decode_whole(Framing::Chunked, body).unwrap();
        assert_eq!(
            progress,
            Progress {
                consumed: body.len() - 3,
                done: true
            }
        );
        assert_eq!(decode_bytewise(Framing::Chunked, body), Ok(body.len() - 3));
    }

    #[test]
    fn length_body_ends_exactly() {
        let progress = decode_whole(Framing::Length(3), b"abcdef").unwrap();
        assert_eq!(
            progress,
            Progress {
                consumed: 3,
                done: true
            }
        );
    }

    #[test]
    fn bad_chunked_framing_is_rejected() {
        let cases: &[&[u8]] = &[
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"x\r\n",
            b"\r\n",
            b"-5\r\nhello\r\n",
            b"fffffffffffffffff\r\n",
            b"5 x\r\nhello\r\n",
            b"0\r\nbad trailer\r\n\r\n",
            b"0\r\n\n",
        ];
        for case in cases {
            let whole = decode_whole(Framing::Chunked, case);
            assert!(whole.is_err(), "{:?}", String::from_utf8_lossy(case));
            let bytewise = decode_bytewise(Framing::Chunked, case);
            assert!(
                bytewise.is_err(),
                "bytewise {:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn chunked_body_over_limit_is_too_large() {
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        assert_eq!(
            decoder.consume(b"400\r\n", 100),
            Err(ParseError::BodyTooLarge)
        );
    }

    #[test]
    fn endless_chunk_extension_is_bounded() {
        let mut line = b"1;".to_vec();
        line.extend(std::iter::repeat_n(b'a', MAX_CHUNK_LINE_BYTES));
        assert!(decode_whole(Framing::Chunked, &line).is_err());
    }
}
