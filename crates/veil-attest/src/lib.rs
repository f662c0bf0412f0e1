//! Attestation evidence for Veil: producing it on the server, verifying it
//! on the client.
//!
//! A server inside a TEE produces [`Evidence`] whose report carries 64 bytes
//! of [`ReportData`] (Veil binds its serving key and the client's nonce
//! there). A client checks it with [`verify_evidence`] against a [`Policy`]
//! naming the [`Measurement`]s it trusts, and gets [`VerifiedClaims`] or an
//! [`AttestationError`] naming the [`Check`] that failed.
//!
//! Verification is pure: bytes, a policy and the time in, claims out. No
//! I/O, no clock, no network, and no `unsafe`.
//!
//! ```
//! use veil_attest::{
//!     EvidenceProducer, Measurement, Policy, ReportData, SimulatedProducer, verify_evidence,
//! };
//!
//! // Server side (here: the simulated platform, which proves nothing).
//! let producer = SimulatedProducer::generate(Measurement::sha384_of(b"server executable"));
//! let report_data = ReportData([0x42; 64]); // in Veil: H(key config ‖ client nonce)
//! let evidence = producer.produce(&report_data)?;
//!
//! // Client side: simulated evidence is refused unless the policy says so.
//! let now_unix = 1_750_000_000; // the caller's clock
//! assert!(verify_evidence(&evidence, &report_data, &Policy::default(), now_unix).is_err());
//! let policy = Policy::insecure_simulation_any_measurement();
//! let claims = verify_evidence(&evidence, &report_data, &policy, now_unix)?;
//! assert!(claims.simulated);
//! assert_eq!(claims.measurement, producer.measurement());
//!
//! // Real hardware: a policy file naming the measurements to trust.
//! let policy = Policy::from_toml_str(&format!(
//!     "platforms = [\"sev-snp\"]\nmeasurements = [\"{}\"]",
//!     producer.measurement()
//! ))?;
//! assert!(!policy.allow_simulation);
//! # Ok::<(), veil_attest::AttestationError>(())
//! ```
//!
//! Platforms, one module each behind [`verify_evidence`]:
//! * `sev-snp`: AMD SEV-SNP reports, VCEK → ASK → AMD ARK or VLEK → ASVK →
//!   AMD ARK (Milan, Genoa and Turin pinned; Turin and VLEK tested on
//!   synthetic chains only).
//! * `tdx`: Intel TDX quotes v4/v5 with Intel PCS collateral, verified by
//!   `dcap-qvl` (RustCrypto) to the Intel SGX root CA (pinned).
//! * `sgx`: Intel SGX quotes v3, the same way.
//! * `nitro`: AWS Nitro Enclaves attestation documents (COSE_Sign1, ES384),
//!   chained to the AWS Nitro root (pinned).
//! * `simulated`: the SEV-SNP report format signed by a key the server
//!   generated; accepted only with [`Policy::allow_simulation`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod anchors;
mod claims;
mod dcap;
mod error;
mod evidence;
mod fields;
mod input;
mod nitro;
mod pinning;
mod policy;
mod product;
mod report;
mod sev_snp;
mod sgx;
mod signature;
mod simulated;
mod tdx;
mod verify;
mod without_policy;
mod x509;

pub use anchors::TrustAnchors;
pub use claims::{PlatformClaims, SevSnpClaims, SnpSigningKey, VerifiedClaims};
pub use dcap::{INTEL_SGX_ROOT_CA_DER, IntelTcb, IntelTcbStatus};
pub use error::{AttestationError, Check};
pub use evidence::{EndorsementTimes, Evidence, EvidenceProducer, PlatformKind};
pub use fields::{Measurement, ReportData, TcbVersion};
pub use input::{decode_certificates, decode_snp_report, detect_platform, trim_dcap_quote};
pub use nitro::{AWS_NITRO_ROOT_DER, NitroClaims, NitroPolicy, verify_nitro_document};
pub use pinning::PinnedPolicy;
pub use policy::Policy;
pub use product::{SnpProduct, TcbLayout};
pub use report::{POLICY_DEBUG_BIT, REPORT_LEN, SIGNED_LEN};
pub use sgx::{SgxClaims, SgxPolicy};
pub use signature::verify_report_signature;
pub use simulated::SimulatedProducer;
pub use tdx::{TdxClaims, TdxPolicy};
pub use verify::{verify_evidence, verify_evidence_with_trust_anchors};
pub use without_policy::{UnpinnedClaims, verify_evidence_without_policy};
