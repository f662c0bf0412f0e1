//! The sealed model store's reader: a model file from the data directory
//! (which the operator controls) → `unseal` with a fixed sealing key and
//! model name. The first byte chooses: 0 = the rest is a sealed file; 1 =
//! the rest is a model, sealed and opened again (it must round-trip);
//! 2 = the rest is a model name (`ModelName::new`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_server::model_name::ModelName;
use veil_server::seal::{Sealer, SealingKey, unseal};

static KEY: LazyLock<SealingKey> = LazyLock::new(|| SealingKey::from_bytes([0x5e; 32]));
static NAME: LazyLock<ModelName> = LazyLock::new(|| ModelName::new("mlp").expect("a valid name"));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = unseal(&KEY, &NAME, rest);
        }
        1 => {
            let mut sealer = Sealer::new(&KEY, &NAME, Vec::new()).expect("sealing into memory");
            sealer.write_all(rest).expect("sealing into memory");
            let sealed = sealer.finish().expect("sealing into memory");
            let opened = unseal(&KEY, &NAME, sealed.as_slice()).expect("a sealed model opens");
            assert!(opened == rest, "seal round trip differs");
        }
        _ => {
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = ModelName::new(s);
            }
        }
    }
});
