//! A policy generated from evidence: it pins exactly what the evidence
//! reports now. `veil policy from-evidence` prints one for an operator to
//! review; a server uses one to recognise replicas of itself.

use crate::anchors::TrustAnchors;
use crate::claims::PlatformClaims;
use crate::error::AttestationError;
use crate::evidence::{Evidence, PlatformKind};
use crate::fields::Measurement;
use crate::fields::ReportData;
use crate::nitro::NitroPolicy;
use crate::policy::Policy;
use crate::sgx::SgxPolicy;
use crate::tdx::TdxPolicy;
use crate::without_policy::verify_evidence_without_policy;
use crate::{IntelTcbStatus, UnpinnedClaims};

/// A policy that pins what one piece of evidence reports, with what a
/// reviewer should know about it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PinnedPolicy {
    /// The policy.
    pub policy: Policy,
    /// What was pinned and what to check, one line each.
    pub notes: Vec<String>,
}

impl PinnedPolicy {
    /// The policy that recognises replicas of this very server: it pins
    /// what the server's *own* `evidence` (over `report_data`) reports, after
    /// verifying that evidence without a policy (chain to the pinned vendor
    /// root, signature, report data). Simulated evidence pins simulated
    /// peers only, and debug is accepted only if this server runs with it.
    pub fn of_own_evidence(
        evidence: &Evidence,
        report_data: &ReportData,
        now_unix: u64,
    ) -> Result<Self, AttestationError> {
        let simulated = evidence.platform == PlatformKind::Simulated;
        let claims = verify_evidence_without_policy(
            evidence,
            Some(report_data),
            simulated,
            now_unix,
            &TrustAnchors::pinned(),
        )?;
        Self::of(&claims, claims.debug)
    }

    /// The policy that accepts exactly what `claims` report: every
    /// measurement the platform reports, its TCB as the floor, its Intel TCB
    /// status and advisories as the only ones accepted; simulated evidence
    /// only if `claims` are simulated. Debug is accepted only if `claims`
    /// report it on *and* `allow_debug` is set.
    pub fn of(claims: &UnpinnedClaims, allow_debug: bool) -> Result<Self, AttestationError> {
        let mut notes = Vec::new();
        let nonzero = |m: &Measurement| (!m.is_zero()).then_some(*m);
        let mut policy = match &claims.details {
            PlatformClaims::SevSnp(snp) => {
                let mut policy = Policy::sev_snp([claims.measurement]);
                if claims.simulated {
                    policy = Policy::insecure_simulation_any_measurement();
                    policy.measurements = vec![claims.measurement];
                    notes.push(
                        "SIMULATED platform: this policy accepts evidence that proves nothing \
                     about the server. Development only."
                            .into(),
                    );
                } else {
                    policy.min_tcb = Some(snp.reported_tcb);
                    notes.push(format!(
                        "min_tcb is the TCB reported now ({}): a firmware rollback is refused, \
                     updates are accepted.",
                        snp.reported_tcb
                    ));
                    if let Some(key) = snp.signing_key {
                        policy.signing_keys = vec![key];
                        notes.push(format!(
                            "signing_keys pins the kind of key that signed now ({}): evidence \
                         signed by the other kind (VCEK or VLEK) is refused until you add it.",
                            key.as_str()
                        ));
                    }
                }
                policy.host_data = nonzero(&snp.host_data).into_iter().collect();
                policy.id_key_digests = nonzero(&snp.id_key_digest).into_iter().collect();
                policy
            }
            PlatformClaims::Tdx(tdx) => {
                let mut pins = TdxPolicy::new([tdx.mrtd]);
                let [r0, r1, r2, r3] = tdx.rtmr;
                pins.rtmr0 = vec![r0];
                pins.rtmr1 = vec![r1];
                pins.rtmr2 = vec![r2];
                pins.rtmr3 = vec![r3];
                pins.tcb_statuses = intel_statuses(tdx.tcb.status, &mut notes);
                pins.allowed_advisory_ids = intel_advisories(&tdx.tcb.advisory_ids, &mut notes);
                notes.push(
                    "RTMR0-3 are pinned as reported now: a kernel, command line or initrd change \
                 changes them."
                        .into(),
                );
                Policy::tdx(pins)
            }
            PlatformClaims::Sgx(sgx) => {
                let mut pins = SgxPolicy::new([sgx.mrenclave]);
                pins.mrsigner = vec![sgx.mrsigner];
                pins.isv_prod_id = Some(sgx.isv_prod_id);
                pins.min_isv_svn = Some(sgx.isv_svn);
                pins.tcb_statuses = intel_statuses(sgx.tcb.status, &mut notes);
                pins.allowed_advisory_ids = intel_advisories(&sgx.tcb.advisory_ids, &mut notes);
                Policy::sgx(pins)
            }
            PlatformClaims::Nitro(nitro) => {
                let pcr = |i| nitro.pcr(i).copied().into_iter().collect::<Vec<_>>();
                let mut pins = NitroPolicy::new(pcr(0));
                pins.pcr1 = pcr(1);
                pins.pcr2 = pcr(2);
                pins.pcr8 = nitro.pcr(8).and_then(nonzero).into_iter().collect();
                if pins.pcr8.is_empty() {
                    notes
                        .push("PCR8 is zero (the enclave image is not signed): not pinned.".into());
                }
                Policy::nitro(pins)
            }
        };
        if claims.debug {
            policy.allow_debug = allow_debug;
            notes.push(
                "allow_debug = true: the evidence says debugging is ON; the host can read the \
             server's memory. Never publish this for production."
                    .into(),
            );
        }
        Ok(PinnedPolicy { policy, notes })
    }
}

/// The accepted Intel TCB statuses: `UpToDate`, and the current status if
/// it is another one (with a note: the platform needs patching).
fn intel_statuses(current: IntelTcbStatus, notes: &mut Vec<String>) -> Vec<IntelTcbStatus> {
    if current == IntelTcbStatus::UpToDate {
        return vec![current];
    }
    notes.push(format!(
        "the platform's Intel TCB status is {current}, not UpToDate: it is accepted here \
         because it is the status now; remove it once the platform is patched."
    ));
    vec![IntelTcbStatus::UpToDate, current]
}

fn intel_advisories(current: &[String], notes: &mut Vec<String>) -> Vec<String> {
    if !current.is_empty() {
        notes.push(format!(
            "Intel advisories accepted because the platform is affected now: {}. Read each \
             one before publishing.",
            current.join(", ")
        ));
    }
    current.to_vec()
}
