//! Veil patch: AES-128-GCM from aws-lc-rs (AWS-LC's assembly, about six
//! times faster than the `aes-gcm` crate on a 602 KB message here) behind
//! RustCrypto's AEAD traits, so that `hpke` and this crate's response AEAD use
//! it unchanged. Only the adapter lives here: the cipher is AWS-LC's.

use std::sync::Arc;

use ::aead::{
    AeadCore, AeadInOut, Error, Key, KeyInit, KeySizeUser, Nonce, Tag, TagPosition,
    consts::{U12, U16},
    inout::InOutBuf,
};
use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce as AwsNonce, UnboundKey};

/// HPKE's AES-128-GCM (RFC 9180 §7.3), implemented by [`Aes128Gcm`].
pub struct AesGcm128;

impl hpke::aead::Aead for AesGcm128 {
    type AeadImpl = Aes128Gcm;

    // RFC 9180 §7.3: AES-128-GCM
    const AEAD_ID: u16 = 0x0001;
}

/// An AES-128-GCM key held by AWS-LC.
#[derive(Clone)]
pub struct Aes128Gcm {
    /// `None` if AWS-LC refused the key (it accepts every 16-byte key); every
    /// operation then fails instead of panicking.
    key: Option<Arc<LessSafeKey>>,
}

impl KeySizeUser for Aes128Gcm {
    type KeySize = U16;
}

impl KeyInit for Aes128Gcm {
    fn new(key: &Key<Self>) -> Self {
        Self {
            key: UnboundKey::new(&AES_128_GCM, key.as_slice())
                .ok()
                .map(|k| Arc::new(LessSafeKey::new(k))),
        }
    }
}

impl AeadCore for Aes128Gcm {
    type NonceSize = U12;
    type TagSize = U16;
    const TAG_POSITION: TagPosition = TagPosition::Postfix;
}

impl Aes128Gcm {
    fn key(&self) -> Result<&LessSafeKey, Error> {
        self.key.as_deref().ok_or(Error)
    }
}

fn nonce(nonce: &Nonce<Aes128Gcm>) -> Result<AwsNonce, Error> {
    AwsNonce::try_assume_unique_for_key(nonce.as_slice()).map_err(|_| Error)
}

impl AeadInOut for Aes128Gcm {
    fn encrypt_inout_detached(
        &self,
        nonce_value: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
    ) -> Result<Tag<Self>, Error> {
        let key = self.key()?;
        // In place when the buffer is (the usual case); otherwise the
        // plaintext is copied to the output first.
        let in_out = buffer.into_out_with_copied_in();
        let tag = key
            .seal_in_place_separate_tag(nonce(nonce_value)?, Aad::from(associated_data), in_out)
            .map_err(|_| Error)?;
        Tag::<Self>::try_from(tag.as_ref()).map_err(|_| Error)
    }

    fn decrypt_inout_detached(
        &self,
        nonce_value: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
        tag: &Tag<Self>,
    ) -> Result<(), Error> {
        let key = self.key()?;
        // In place when the buffer is (the usual case); otherwise the
        // ciphertext is copied to the output first.
        let out = buffer.into_out_with_copied_in();
        let opened = key
            .open_in_place_separate_tag(
                nonce(nonce_value)?,
                Aad::from(associated_data),
                tag.as_slice(),
                out,
            )
            .is_ok();
        if !opened {
            // Never leave unauthenticated plaintext behind.
            out.fill(0);
            return Err(Error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use ::aead::{Aead as _, AeadInOut, KeyInit, Payload};

    use super::Aes128Gcm;

    /// The two implementations agree, both ways, and each refuses a
    /// flipped ciphertext or tag bit.
    #[test]
    fn matches_the_aes_gcm_crate() {
        let key = [7u8; 16];
        let nonce = [9u8; 12];
        let aad = b"aad";
        let ours = Aes128Gcm::new(&key.into());
        let theirs = ::aes_gcm::Aes128Gcm::new(&key.into());
        for len in [0usize, 1, 15, 16, 17, 255, 4096, 70_001] {
            let pt: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let payload = || Payload { msg: &pt, aad };
            let ct = ours.encrypt(&nonce.into(), payload()).unwrap();
            assert_eq!(ct, theirs.encrypt(&nonce.into(), payload()).unwrap());
            let back = |ct: &[u8]| ours.decrypt(&nonce.into(), Payload { msg: ct, aad });
            assert_eq!(back(&ct).unwrap(), pt);
            let mut bad = ct.clone();
            bad[ct.len() / 2] ^= 1;
            assert!(back(&bad).is_err());
            assert!(ours.decrypt(&nonce.into(), Payload { msg: &ct, aad: b"x" }).is_err());
            // In place, as hpke calls it.
            let mut buf = pt.clone();
            let tag = ours
                .encrypt_inout_detached(&nonce.into(), aad, buf.as_mut_slice().into())
                .unwrap();
            assert_eq!([&buf[..], &tag[..]].concat(), ct);
            ours.decrypt_inout_detached(&nonce.into(), aad, buf.as_mut_slice().into(), &tag)
                .unwrap();
            assert_eq!(buf, pt);
        }
    }
}
