//! The secure channel's cost per inference request, without the network and
//! without an engine: what Veil adds to a MobileNetV2 batch-1 call
//! (a `[1,3,224,224]` f32 input, 602 KB; a `[1,1000]` f32 output).
//!
//! Each round runs, in one process, the same library calls as the Rust
//! client and the server's gateway and `infer` handler:
//! 1. `client_request`: the OIP binary body, binary HTTP, OHTTP encapsulation;
//! 2. `server_request`: decapsulation, binary HTTP and OIP decoding, down to
//!    the tensor the engine is handed;
//! 3. `server_response`: the OIP response body, binary HTTP, sealing;
//! 4. `client_response`: opening, binary HTTP and OIP decoding.
//!
//! ```sh
//! cargo bench -p veil-protocol --bench channel            # wall-clock, 2000 rounds
//! cargo bench -p veil-protocol --bench channel -- 50      # 50 rounds
//! # instruction counts per step (the functions above, inclusive):
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/channel.cg \
//!     target/release/deps/channel-<hash> 20
//! callgrind_annotate --inclusive=yes /tmp/channel.cg | grep -E 'channel::(client|server)_'
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use veil_protocol::channel::{ClientKey, GatewayKey, ResponseOpener, ResponseSealer};
use veil_protocol::inner::{InnerRequest, InnerRequestRef, InnerResponse};
use veil_protocol::oip::{self, InferRequest, InferResponse};
use veil_tensor::Tensor;

// The server, the CLI and the SDK run on mimalloc: so does this benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const MODEL_PATH: &str = "/v2/models/mobilenetv2/infer";

fn input() -> Result<Tensor> {
    let values: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| ((i % 255) as f32 / 255.0 - 0.45) / 0.225)
        .collect();
    Ok(Tensor::from_values(vec![1, 3, 224, 224], values)?)
}

fn output() -> Result<Tensor> {
    let values: Vec<f32> = (0..1000).map(|i| i as f32 * 0.001).collect();
    Ok(Tensor::from_values(vec![1, 1000], values)?)
}

fn header_length(headers: &[(String, String)]) -> Result<Option<usize>> {
    Ok(headers
        .iter()
        .find(|(k, _)| k == oip::HEADER_LENGTH_HEADER)
        .map(|(_, v)| v.parse::<usize>())
        .transpose()?)
}

/// What `veil_client::Client::infer` does before the POST.
#[inline(never)]
fn client_request(key: &ClientKey, request: &InferRequest) -> Result<(Vec<u8>, ResponseOpener)> {
    let parts = request.encode_parts(true)?;
    let mut headers = vec![("content-type".to_string(), parts.content_type().to_string())];
    if let Some(n) = parts.header_length {
        headers.push((oip::HEADER_LENGTH_HEADER.into(), n.to_string()));
    }
    let inner = InnerRequestRef {
        method: "POST",
        path: MODEL_PATH,
        headers: &headers,
        body: parts.pieces(),
    };
    Ok(key.encapsulate_request(&inner)?)
}

/// What the gateway and the `infer` handler do before the engine runs: the
/// gateway owns the received body, decrypts it in place and hands the inner
/// body on as `Bytes`, of which the tensors are views.
#[inline(never)]
fn server_request(key: &GatewayKey, mut enc: Vec<u8>) -> Result<(InferRequest, ResponseSealer)> {
    let (inner_bytes, sealer) = key.decapsulate_in_place(&mut enc)?;
    let inner = InnerRequest::decode(inner_bytes)?;
    drop(enc);
    let hl = header_length(&inner.headers)?;
    let request = InferRequest::decode_shared(inner.body.into(), hl)?;
    Ok((request, sealer))
}

/// What the `infer` handler and the gateway do after the engine returns.
#[inline(never)]
fn server_response(
    request: &InferRequest,
    outputs: Vec<(String, Tensor)>,
    sealer: ResponseSealer,
) -> Result<Vec<u8>> {
    let response = InferResponse {
        model_name: "mobilenetv2".into(),
        id: request.id.clone(),
        outputs,
    };
    let encoded = response.encode(|n| request.wants_binary(n))?;
    let mut headers = vec![(
        "content-type".to_string(),
        encoded.content_type().to_string(),
    )];
    if let Some(n) = encoded.header_length {
        headers.push((oip::HEADER_LENGTH_HEADER.into(), n.to_string()));
    }
    let inner = InnerResponse {
        status: 200,
        headers,
        body: encoded.body,
    };
    Ok(sealer.seal(&inner.encode()?)?)
}

/// What `veil_client::Client::infer` does with the answer.
#[inline(never)]
fn client_response(opener: ResponseOpener, enc: &[u8]) -> Result<InferResponse> {
    let inner = InnerResponse::decode(&opener.open(enc)?)?;
    let hl = header_length(&inner.headers)?;
    Ok(InferResponse::decode(&inner.body, hl)?)
}

/// One full round; returns the time of each of the four steps.
fn round(
    client: &ClientKey,
    gateway: &GatewayKey,
    request: &InferRequest,
    out: &Tensor,
) -> Result<[Duration; 4]> {
    let t0 = Instant::now();
    let (enc, opener) = client_request(client, request)?;
    let t1 = Instant::now();
    let (received, sealer) = server_request(gateway, black_box(enc))?;
    let t2 = Instant::now();
    if received.inputs[0].1 != request.inputs[0].1 {
        return Err("the server decoded another tensor than the client sent".into());
    }
    drop(received.inputs);
    let received = InferRequest {
        inputs: Vec::new(),
        ..received
    };
    let t2b = Instant::now();
    let sealed = server_response(&received, vec![("output".into(), out.clone())], sealer)?;
    let t3 = Instant::now();
    let response = client_response(opener, black_box(&sealed))?;
    let t4 = Instant::now();
    if response.outputs[0].1 != *out {
        return Err("the client decoded another tensor than the server sent".into());
    }
    Ok([t1 - t0, t2 - t1, t3 - t2b, t4 - t3])
}

fn median_and_p99(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (
        us(v[v.len() / 2]),
        us(v[(v.len() * 99 / 100).min(v.len() - 1)]),
    )
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; a bare number is the round count.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(2000);
    let gateway = GatewayKey::generate()?;
    let client = ClientKey::new(gateway.encoded_config().to_vec())?;
    let request = InferRequest::new(vec![("input".into(), input()?)]);
    let out = output()?;

    let warmup = (rounds / 10).min(100);
    for _ in 0..warmup {
        round(&client, &gateway, &request, &out)?;
    }
    let mut steps: [Vec<Duration>; 5] = Default::default();
    for _ in 0..rounds {
        let t = round(&client, &gateway, &request, &out)?;
        for (i, d) in t.iter().enumerate() {
            steps[i].push(*d);
        }
        steps[4].push(t.iter().sum());
    }
    println!("channel round trip, 602 KB f32 request, 4 KB f32 response, {rounds} rounds");
    println!("{:<18} {:>12} {:>12}", "step", "median µs", "p99 µs");
    let names = [
        "client_request",
        "server_request",
        "server_response",
        "client_response",
        "total",
    ];
    for (name, v) in names.iter().zip(steps) {
        let (m, p) = median_and_p99(v);
        println!("{name:<18} {m:>12.1} {p:>12.1}");
    }
    Ok(())
}
