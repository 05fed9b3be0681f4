//! One HTTP/1.1 connection as a load generator drives it: a request prepared once as bytes is
//! written whole, and the answer's head is parsed in place (httparse) and its body counted
//! and dropped — sized by Content-Length, chunked, or running to the end of the connection.
//! Nothing per request is allocated, which is what lets one thread keep a server busy.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes a response head may take.
const MAX_HEAD: usize = 64 * 1024;
/// Most header lines a response head may have.
const MAX_HEADERS: usize = 96;
/// How much is read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A request written out once, to be sent many times.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    /// A HEAD request's answer has no body, whatever its headers say.
    head: bool,
}

impl Prepared {
    /// `method target HTTP/1.1`, the headers as given (with `Host` among them), a
    /// Content-Length when there is a body or the method usually carries one, and the body.
    pub fn new(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Prepared {
        let mut bytes = Vec::with_capacity(128 + body.len());
        bytes.extend_from_slice(format!("{method} {target} HTTP/1.1\r\n").as_bytes());
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Prepared {
            bytes,
            head: method == "HEAD",
        }
    }

    /// The bytes as sent.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What went wrong with an exchange.
pub type Failure = &'static str;

/// An answer: its status, and whether the connection can carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// False when the server said `Connection: close` or ended the body by closing.
    pub reusable: bool,
}

/// An open connection and what has been read from it but not yet used.
pub struct Wire<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S) -> Wire<S> {
        Wire {
            stream,
            buf: Vec::with_capacity(READ_CHUNK),
        }
    }

    /// Reads more into the buffer; false at the end of the stream.
    async fn fill(&mut self) -> Result<bool, Failure> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|_| "connection closed")?;
        Ok(n > 0)
    }

    /// Sends `request` and reads its whole answer.
    pub async fn exchange(&mut self, request: &Prepared) -> Result<Answer, Failure> {
        self.stream
            .write_all(&request.bytes)
            .await
            .map_err(|_| "connection closed")?;
        loop {
            let (head_len, status, framing, close) = self.head().await?;
            self.buf.drain(..head_len);
            // An interim answer (100 Continue) is followed by the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            let framing = if request.head || status == 204 || status == 304 {
                Framing::Length(0)
            } else {
                framing
            };
            let reusable = self.body(framing).await? && !close;
            return Ok(Answer { status, reusable });
        }
    }

    /// Reads until a whole response head is buffered; its length, status, framing and
    /// whether it asks to close.
    async fn head(&mut self) -> Result<(usize, u16, Framing, bool), Failure> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = response.code.ok_or("malformed answer")?;
                    let http10 = response.version == Some(0);
                    let mut framing = Framing::UntilClose;
                    let mut close = http10;
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let n = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or("malformed answer")?;
                            if framing == Framing::UntilClose {
                                framing = Framing::Length(n);
                            }
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            if h.value.to_ascii_lowercase().ends_with(b"chunked") {
                                framing = Framing::Chunked;
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let v = h.value.to_ascii_lowercase();
                            if v.windows(5).any(|w| w == b"close") {
                                close = true;
                            } else if v.windows(10).any(|w| w == b"keep-alive") {
                                close = false;
                            }
                        }
                    }
                    return Ok((len, status, framing, close));
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() >= MAX_HEAD {
                        return Err("answer head too large");
                    }
                    if !self.fill().await? {
                        return Err("connection closed");
                    }
                }
                Err(_) => return Err("malformed answer"),
            }
        }
    }

    /// Reads past the body; false when the connection ended it (and so is done).
    async fn body(&mut self, framing: Framing) -> Result<bool, Failure> {
        match framing {
            Framing::Length(mut left) => loop {
                let here = left.min(self.buf.len());
                self.buf.drain(..here);
                left -= here;
                if left == 0 {
                    return Ok(true);
                }
                if !self.fill().await? {
                    return Err("body cut short");
                }
            },
            Framing::UntilClose => {
                self.buf.clear();
                while self.fill().await? {
                    self.buf.clear();
                }
                Ok(false)
            }
            Framing::Chunked => self.chunks().await.map(|()| true),
        }
    }

    /// Reads past a chunked body and its trailers.
    async fn chunks(&mut self) -> Result<(), Failure> {
        loop {
            let (skip, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((skip, size))) => break (skip, size),
                    Ok(httparse::Status::Partial) => {
                        if !self.fill().await? {
                            return Err("body cut short");
                        }
                    }
                    Err(_) => return Err("malformed answer"),
                }
            };
            self.buf.drain(..skip);
            if size == 0 {
                // Trailers, if any, then the empty line.
                loop {
                    if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        self.buf.drain(..end + 2);
                        if end == 0 {
                            return Ok(());
                        }
                    } else if !self.fill().await? {
                        return Err("body cut short");
                    }
                }
            }
            // The chunk's data and its CRLF.
            let mut left = usize::try_from(size).map_err(|_| "malformed answer")? + 2;
            loop {
                let here = left.min(self.buf.len());
                self.buf.drain(..here);
                left -= here;
                if left == 0 {
                    break;
                }
                if !self.fill().await? {
                    return Err("body cut short");
                }
            }
        }
    }
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// After this many bytes.
    Length(usize),
    /// With a zero-size chunk.
    Chunked,
    /// When the server closes the connection.
    UntilClose,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wire whose server side writes `answer` in pieces of `piece` bytes, then stays open
    /// (or closes, with `close`); returns the answer and what the client sent.
    async fn exchange_with(
        answer: &'static [u8],
        piece: usize,
        close: bool,
    ) -> (Result<Answer, Failure>, Vec<u8>) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let request = Prepared::new(
            "POST",
            "/tasks?x=1",
            &[("Host".into(), "127.0.0.1:4747".into())],
            b"{}",
        );
        let expected_len = request.bytes().len();
        let serve = tokio::spawn(async move {
            let mut got = vec![0; expected_len];
            server.read_exact(&mut got).await.unwrap();
            for part in answer.chunks(piece) {
                server.write_all(part).await.unwrap();
                tokio::task::yield_now().await;
            }
            if !close {
                // Hold the connection open until the client is done with it.
                let mut rest = Vec::new();
                let _ = server.read_to_end(&mut rest).await;
            }
            got
        });
        let mut wire = Wire::new(client);
        let result = wire.exchange(&request).await;
        drop(wire);
        (result, serve.await.unwrap())
    }

    #[tokio::test]
    async fn a_sized_body_is_read_past_however_it_arrives() {
        let answer = b"HTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\nhello world";
        for piece in [1, 7, answer.len()] {
            let (result, sent) = exchange_with(answer, piece, false).await;
            assert_eq!(
                result,
                Ok(Answer {
                    status: 201,
                    reusable: true
                }),
                "piece {piece}"
            );
            assert_eq!(
                String::from_utf8(sent).unwrap(),
                "POST /tasks?x=1 HTTP/1.1\r\nHost: 127.0.0.1:4747\r\nContent-Length: 2\r\n\r\n{}"
            );
        }
    }

    #[tokio::test]
    async fn chunks_and_trailers_are_read_to_the_end() {
        let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for piece in [1, 3, answer.len()] {
            let (result, _) = exchange_with(answer, piece, false).await;
            assert_eq!(
                result,
                Ok(Answer {
                    status: 200,
                    reusable: true
                }),
                "piece {piece}"
            );
        }
    }

    #[tokio::test]
    async fn close_ends_reuse_and_a_cut_body_is_a_failure() {
        let answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
        let (result, _) = exchange_with(answer, 64, true).await;
        assert_eq!(
            result,
            Ok(Answer {
                status: 200,
                reusable: false
            })
        );
        let answer = b"HTTP/1.1 200 OK\r\n\r\nuntil the end";
        let (result, _) = exchange_with(answer, 64, true).await;
        assert_eq!(
            result,
            Ok(Answer {
                status: 200,
                reusable: false
            })
        );
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        let (result, _) = exchange_with(answer, 64, true).await;
        assert_eq!(result, Err("body cut short"));
        let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let (result, _) = exchange_with(answer, 64, false).await;
        assert_eq!(
            result,
            Ok(Answer {
                status: 204,
                reusable: true
            })
        );
        let (result, _) = exchange_with(b"not http at all\r\n\r\n", 64, true).await;
        assert_eq!(result, Err("malformed answer"));
    }
}
