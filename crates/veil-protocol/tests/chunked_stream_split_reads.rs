//! The streaming parsers on the upload path survive a network that delivers
//! one byte at a time, with `Pending` between bytes: every chunk length and
//! every varint arrives split. Upstream `ohttp` 0.8.0 corrupted the stream
//! here and upstream `bhttp` 0.8.0 stalled (see vendor/README.md); these
//! tests fail against the unpatched crates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use bhttp::stream::AsyncReadMessage;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use veil_protocol::channel::GatewayKey;
use veil_protocol::inner::{StreamingRequestHead, write_body_chunk, write_body_end};

/// Hands out one byte per read, and `Pending` (after waking its task, as a
/// socket would once more data arrives) before every byte.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    ready: bool,
}

impl Trickle {
    fn new(data: Vec<u8>) -> Self {
        Trickle {
            data,
            pos: 0,
            ready: false,
        }
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        if self.pos == self.data.len() || buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        buf[0] = self.data[self.pos];
        self.pos += 1;
        Poll::Ready(Ok(1))
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `fut` to completion; fails if it returns `Pending` without having
/// arranged a wake-up (a stall that would hang a real server task).
fn run<T>(fut: impl Future<Output = T>) -> T {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(
            flag.0.load(Ordering::SeqCst),
            "the parser returned Pending without arranging a wake-up: it would stall"
        );
    }
}

fn model_like_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// A chunked upload as the client sends it: head, body in pieces, end.
fn inner_upload(body: &[u8], piece: usize) -> Vec<u8> {
    let headers = vec![(
        "content-type".to_owned(),
        "application/octet-stream".to_owned(),
    )];
    let mut plain =
        StreamingRequestHead::encode("PUT", "/v2/repository/models/m", &headers).unwrap();
    for chunk in body.chunks(piece) {
        write_body_chunk(chunk, &mut plain);
    }
    write_body_end(&mut plain);
    plain
}

fn encapsulate_chunked(key: &GatewayKey, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    run(async {
        let mut w = ohttp::ClientRequest::from_encoded_config_list(key.encoded_config())
            .unwrap()
            .encapsulate_stream(&mut out)
            .unwrap();
        for piece in plain.chunks(5000) {
            w.write_all(piece).await.unwrap();
        }
        w.close().await.unwrap();
    });
    out
}

#[test]
fn chunked_ohttp_decapsulates_when_every_chunk_length_arrives_split() {
    let key = GatewayKey::generate().unwrap();
    let plain = model_like_bytes(40_000);
    let ciphertext = encapsulate_chunked(&key, &plain);
    let mut reader = Box::pin(
        key.ohttp_server()
            .clone()
            .decapsulate_stream(Trickle::new(ciphertext)),
    );
    let mut opened = Vec::new();
    run(reader.read_to_end(&mut opened)).expect("the stream decrypts");
    assert_eq!(opened, plain);
}

#[test]
fn chunked_ohttp_refuses_a_truncated_stream_even_byte_by_byte() {
    let key = GatewayKey::generate().unwrap();
    let ciphertext = encapsulate_chunked(&key, &model_like_bytes(40_000));
    let cut = ciphertext[..ciphertext.len() - 1].to_vec();
    let mut reader = Box::pin(
        key.ohttp_server()
            .clone()
            .decapsulate_stream(Trickle::new(cut)),
    );
    let mut opened = Vec::new();
    assert!(run(reader.read_to_end(&mut opened)).is_err());
}

#[test]
fn bhttp_stream_parses_an_upload_delivered_byte_by_byte() {
    let body = model_like_bytes(20_000);
    // 300-byte pieces: two-byte chunk lengths, each split by the trickle.
    let plain = inner_upload(&body, 300);
    let got = run(async {
        let mut message = bhttp::Message::async_read(Trickle::new(plain));
        let header = message.header().await.unwrap();
        assert_eq!(header.control().method(), Some(&b"PUT"[..]));
        let mut got = Vec::new();
        message.body().unwrap().read_to_end(&mut got).await.unwrap();
        message.trailer().await.unwrap();
        got
    });
    assert_eq!(got, body);
}

#[test]
fn the_whole_upload_path_survives_split_reads() {
    let key = GatewayKey::generate().unwrap();
    let body = model_like_bytes(30_000);
    let ciphertext = encapsulate_chunked(&key, &inner_upload(&body, 7_000));
    let got = run(async {
        let decrypted = key
            .ohttp_server()
            .clone()
            .decapsulate_stream(Trickle::new(ciphertext));
        let mut message = bhttp::Message::async_read(Box::pin(decrypted));
        message.header().await.unwrap();
        let mut got = Vec::new();
        message.body().unwrap().read_to_end(&mut got).await.unwrap();
        message.trailer().await.unwrap();
        got
    });
    assert_eq!(got, body);
}
