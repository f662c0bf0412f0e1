//! Inputs the fuzzers found (`fuzz/`, `scripts/fuzz.sh`), each refused
//! cleanly now. Before the fix each of these aborted the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bhttp::stream::AsyncReadMessage;
use futures::executor::block_on;
use futures::io::{AsyncWriteExt, Cursor};
use veil_protocol::channel::{ClientKey, GatewayKey};

/// Found by `ohttp_request` (mode 2) in its first seconds: a binary HTTP
/// request whose scheme claims 0x3b00_008a_202d_008a bytes and sends none.
/// Upstream `bhttp`'s stream parser allocated the claimed length before
/// reading (an allocation failure aborts), so one chunked request from
/// anyone holding the public key config stopped the server.
const HUGE_FIELD_LENGTH: &[u8] = &[0x00, 0x00, 0xfb, 0x00, 0x00, 0x8a, 0x20, 0x2d, 0x00, 0x8a];

/// The same kind of input with the largest length a varint can carry.
const LARGEST_FIELD_LENGTH: &[u8] = &[
    0x00, 0x04, b'P', b'O', b'S', b'T', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

fn stream_header(plain: &[u8]) -> Result<(), bhttp::Error> {
    block_on(async {
        let mut message = bhttp::Message::async_read(Cursor::new(plain));
        message.header().await.map(drop)
    })
}

#[test]
fn a_streamed_request_declaring_a_huge_field_is_refused_as_truncated() {
    for input in [HUGE_FIELD_LENGTH, LARGEST_FIELD_LENGTH] {
        assert!(matches!(stream_header(input), Err(bhttp::Error::Truncated)));
    }
}

#[test]
fn the_gateway_path_refuses_it_inside_a_chunked_request() {
    // As the server reads a `message/ohttp-chunked-req`: stream
    // decapsulation, then the stream parser on the plaintext.
    let key = GatewayKey::generate().unwrap();
    let client = ClientKey::new(key.encoded_config().to_vec()).unwrap();
    let ciphertext = block_on(async {
        let mut out = Cursor::new(Vec::new());
        let mut writer = client
            .request()
            .unwrap()
            .encapsulate_stream(&mut out)
            .unwrap();
        writer.write_all(HUGE_FIELD_LENGTH).await.unwrap();
        writer.close().await.unwrap();
        out.into_inner()
    });
    let refused = block_on(async {
        let stream = key
            .ohttp_server()
            .clone()
            .decapsulate_stream(Cursor::new(ciphertext));
        let mut message = bhttp::Message::async_read(stream);
        message.header().await.map(drop)
    });
    assert!(refused.is_err());
}
