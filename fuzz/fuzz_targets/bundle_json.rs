//! The evidence bundle a client fetches from `GET /v1/attestation`: JSON
//! decoding, then the whole of `verify_bundle` (base64 fields, the evidence
//! of whatever platform it names, the transcript, the key configuration),
//! with a fixed nonce, a policy that accepts simulated evidence, and a fixed
//! time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_attest::Policy;
use veil_protocol::bundle::{EvidenceBundle, verify_bundle};

/// The nonce the seed bundles answer (see `fuzz/README.md`).
const NONCE: [u8; 32] = [0x11; 32];
const NOW: u64 = 1_750_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = serde_json::from_slice::<EvidenceBundle>(data) else {
        return;
    };
    // What decodes must encode back to the same bundle.
    let again = serde_json::to_vec(&bundle).expect("a decoded bundle encodes");
    let reparsed: EvidenceBundle = serde_json::from_slice(&again).expect("its encoding decodes");
    assert_eq!(reparsed, bundle);
    let _ = bundle.decode();
    let policy = Policy::insecure_simulation_any_measurement();
    let _ = verify_bundle(&bundle, &NONCE, &policy, NOW);
});
