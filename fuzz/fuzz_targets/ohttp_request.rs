//! What the server does with the body of `POST /v1/ohttp`, with a gateway
//! key fixed for the run. The first byte chooses:
//!
//! * 0: the rest is an encapsulated request (`message/ohttp-req`): OHTTP
//!   header and HPKE decapsulation (fails at the AEAD unless the fuzzer
//!   forges a ciphertext, which would be a finding);
//! * 1: the rest is an inner binary HTTP request: encapsulated to the key by
//!   a client, decapsulated, then decoded as the gateway does
//!   (`InnerRequest::decode`); what decodes must round-trip;
//! * 2: the rest is an inner binary HTTP message read by `bhttp`'s stream
//!   parser, as the chunked gateway reads it (head, body, trailer);
//! * 3: the rest is a chunked encapsulated request
//!   (`message/ohttp-chunked-req`): stream decapsulation and the stream
//!   parser behind it.
#![no_main]

use std::sync::LazyLock;

use bhttp::stream::AsyncReadMessage;
use futures::executor::block_on;
use futures::io::{AsyncReadExt, Cursor};
use libfuzzer_sys::fuzz_target;
use veil_protocol::channel::{ClientKey, GatewayKey};
use veil_protocol::inner::InnerRequest;

static KEYS: LazyLock<(GatewayKey, ClientKey)> = LazyLock::new(|| {
    let gateway = GatewayKey::generate().expect("a gateway key");
    let client = ClientKey::new(gateway.encoded_config().to_vec()).expect("its config parses");
    (gateway, client)
});

/// Reads an inner message the way the chunked gateway does; bounded by the input.
async fn read_streamed<S: futures::io::AsyncRead + Unpin>(source: S) {
    let mut message = bhttp::Message::async_read(source);
    if message.header().await.is_err() {
        return;
    }
    if let Ok(mut body) = message.body() {
        let mut buf = [0u8; 4096];
        loop {
            match body.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    let _ = message.trailer().await;
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (gateway, client) = &*KEYS;
    match mode % 4 {
        0 => {
            let _ = gateway.decapsulate(rest);
        }
        1 => {
            let (enc, _opener) = client
                .encapsulate(rest)
                .expect("encapsulation of any bytes");
            let (inner, _sealer) = gateway
                .decapsulate(&enc)
                .expect("a request encapsulated to this key decapsulates");
            assert_eq!(inner, rest);
            if let Ok(request) = InnerRequest::decode(&inner) {
                let encoded = request.encode().expect("a decoded request encodes");
                let again = InnerRequest::decode(&encoded).expect("its encoding decodes");
                assert!(again == request, "inner request round trip differs");
            }
        }
        2 => block_on(read_streamed(Cursor::new(rest))),
        _ => {
            let stream = gateway
                .ohttp_server()
                .clone()
                .decapsulate_stream(Cursor::new(rest));
            block_on(read_streamed(stream));
        }
    }
});
