//! A replica's request for the sealing key (`POST
//! /veil/v1/replica/sealing-key`), which any client of the channel can
//! send: JSON decoding, then the sharer's whole answer (base64 fields, the
//! evidence of whatever platform it names, the policy pinning the sharer's
//! own simulated evidence, the report data binding the key, sealing to it).
//! The first byte chooses: even = the rest is a join request; odd = the
//! rest is a sealed answer, opened by a joiner.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use veil_attest::{Measurement, SimulatedProducer};
use veil_protocol::replica::{JoinRequest, JoinerKey, SealedSealingKey};
use veil_server::replica::ReplicaSharing;
use veil_server::seal::SealingKey;

/// The measurement of the seed requests (see `fuzz/seeds`).
static SHARER: LazyLock<ReplicaSharing> = LazyLock::new(|| {
    let producer = SimulatedProducer::generate(Measurement::from_sha384([0x42; 48]));
    ReplicaSharing::new(Arc::new(producer), SealingKey::from_bytes([0x5e; 32]))
});
static JOINER: LazyLock<JoinerKey> = LazyLock::new(JoinerKey::generate);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(request) = serde_json::from_slice::<JoinRequest>(rest) {
            let _ = SHARER.answer(&request);
        }
    } else if let Ok(sealed) = serde_json::from_slice::<SealedSealingKey>(rest) {
        let _ = JOINER.open(&sealed);
    }
});
