//! Owner-encrypted model uploads: the body of an upload with content type
//! `application/vnd.veil.owner-encrypted-model`, which anyone holding an
//! owner token (or a leaked file) can shape → `OwnerDecryptor` with a fixed
//! model key, pushed in pieces as a network body arrives. The first byte
//! chooses: even = the rest is an encrypted file, odd = the rest is a
//! model, encrypted to the key and opened again (it must round-trip). Its
//! upper bits choose the size of the pieces.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_model_crypto::owner::{ModelKeyPair, OwnerDecryptor, encrypt};

static KEY: LazyLock<ModelKeyPair> = LazyLock::new(|| ModelKeyPair::derive(&[0x0e; 32]));

fn open_in_pieces(file: &[u8], piece: usize) -> Option<Vec<u8>> {
    let mut decryptor = OwnerDecryptor::new(&KEY);
    let mut plaintext = Vec::new();
    for part in file.chunks(piece) {
        decryptor.push(part, &mut plaintext).ok()?;
    }
    decryptor.finish(&mut plaintext).ok()?;
    Some(plaintext)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let piece = 1 + usize::from(mode >> 1) * 131;
    if mode % 2 == 0 {
        let _ = open_in_pieces(rest, piece);
    } else {
        let file = encrypt(KEY.public(), rest).expect("encrypting into memory");
        let opened = open_in_pieces(&file, piece).expect("an encrypted model opens");
        assert!(opened == rest, "owner encryption round trip differs");
    }
});
