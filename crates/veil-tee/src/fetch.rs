//! Fetching endorsements over HTTPS from AMD KDS and Intel PCS (or a
//! caching service at another URL, such as a PCCS or a test's mock).

use std::time::Duration;

use crate::cache::pem_chain_to_der;
use crate::endorsements::{SnpCertificates, TdxCollateral};
use crate::error::TeeError;
use crate::kds::{DEFAULT_KDS_URL, VcekRequest};
use crate::pcs::{DEFAULT_INTEL_ROOT_CRL_URL, DEFAULT_PCS_URL, PcsRequest};

/// Where endorsements are fetched from. The defaults are AMD's and Intel's
/// production services.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndorsementSources {
    /// AMD KDS base URL (`--kds-url`).
    pub kds_url: String,
    /// Intel PCS base URL (`--pcs-url`).
    pub pcs_url: String,
    /// The Intel SGX Root CA CRL (`--intel-root-crl-url`).
    pub intel_root_crl_url: String,
}

impl Default for EndorsementSources {
    fn default() -> Self {
        EndorsementSources {
            kds_url: DEFAULT_KDS_URL.to_owned(),
            pcs_url: DEFAULT_PCS_URL.to_owned(),
            intel_root_crl_url: DEFAULT_INTEL_ROOT_CRL_URL.to_owned(),
        }
    }
}

/// An HTTPS client (rustls, Mozilla's roots) for the endorsement services.
#[derive(Debug, Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    sources: EndorsementSources,
}

/// One successful GET: the body and the response headers.
struct Fetched {
    body: Vec<u8>,
    headers: reqwest::header::HeaderMap,
}

impl Fetcher {
    /// A client for `sources`, each request bounded by `timeout`.
    pub fn new(sources: EndorsementSources, timeout: Duration) -> Result<Self, TeeError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| TeeError::Fetch {
                url: String::new(),
                detail: format!("cannot build the HTTPS client: {e}"),
            })?;
        Ok(Fetcher { http, sources })
    }

    /// The sources fetched from.
    pub fn sources(&self) -> &EndorsementSources {
        &self.sources
    }

    async fn get(&self, url: &str) -> Result<Fetched, TeeError> {
        let error = |detail: String| TeeError::Fetch {
            url: url.to_owned(),
            detail,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| error(format!("{e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(error(format!("HTTP {status}")));
        }
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| error(format!("reading the body: {e}")))?;
        Ok(Fetched {
            body: body.to_vec(),
            headers,
        })
    }

    /// The VCEK for `request` and its product's ASK + ARK, from KDS.
    pub async fn fetch_snp(&self, request: &VcekRequest) -> Result<SnpCertificates, TeeError> {
        let kds = &self.sources.kds_url;
        let vcek_url = request.vcek_url(kds);
        let vcek = self.get(&vcek_url).await?.body;
        let chain_url = request.cert_chain_url(kds);
        let chain =
            pem_chain_to_der(&self.get(&chain_url).await?.body).map_err(|e| TeeError::Fetch {
                url: chain_url.clone(),
                detail: e.to_string(),
            })?;
        let [ask, ark] = <[Vec<u8>; 2]>::try_from(chain).map_err(|c| TeeError::Fetch {
            url: chain_url.clone(),
            detail: format!("{} certificates, expected ASK and ARK", c.len()),
        })?;
        <x509_cert::Certificate as x509_cert::der::Decode>::from_der(&vcek).map_err(|e| {
            TeeError::Fetch {
                url: vcek_url,
                detail: format!("not a DER certificate: {e}"),
            }
        })?;
        Ok(SnpCertificates {
            leaf: vcek,
            ask,
            ark: Some(ark),
        })
    }

    /// The collateral for `request`'s platform from PCS, assembled as
    /// `QuoteCollateralV3` JSON (the form clients verify).
    pub async fn fetch_intel(&self, request: &PcsRequest) -> Result<TdxCollateral, TeeError> {
        let pcs = &self.sources.pcs_url;
        let pck_crl_url = request.pck_crl_url(pcs);
        let pck_crl = self.get(&pck_crl_url).await?;
        let tcb_url = request.tcb_info_url(pcs);
        let tcb = self.get(&tcb_url).await?;
        let qe_url = request.qe_identity_url(pcs);
        let qe = self.get(&qe_url).await?;
        let root_ca_crl = self.get(&self.sources.intel_root_crl_url).await?.body;

        let (tcb_info, tcb_info_signature) = signed_json(&tcb_url, &tcb.body, "tcbInfo")?;
        let (qe_identity, qe_identity_signature) =
            signed_json(&qe_url, &qe.body, "enclaveIdentity")?;
        let collateral = dcap_qvl::QuoteCollateralV3 {
            pck_crl_issuer_chain: issuer_chain(
                &pck_crl_url,
                &pck_crl.headers,
                &["SGX-PCK-CRL-Issuer-Chain"],
            )?,
            root_ca_crl,
            pck_crl: pck_crl.body,
            tcb_info_issuer_chain: issuer_chain(
                &tcb_url,
                &tcb.headers,
                &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
            )?,
            tcb_info,
            tcb_info_signature,
            qe_identity_issuer_chain: issuer_chain(
                &qe_url,
                &qe.headers,
                &["SGX-Enclave-Identity-Issuer-Chain"],
            )?,
            qe_identity,
            qe_identity_signature,
            pck_certificate_chain: None,
        };
        let json = serde_json::to_vec(&collateral).map_err(|e| TeeError::Fetch {
            url: tcb_url.clone(),
            detail: format!("cannot encode the collateral: {e}"),
        })?;
        TdxCollateral::from_json(json, tcb_url.into())
    }
}

/// A PEM issuer chain from a response header (URL-encoded by PCS).
fn issuer_chain(
    url: &str,
    headers: &reqwest::header::HeaderMap,
    names: &[&str],
) -> Result<String, TeeError> {
    let value = names
        .iter()
        .find_map(|name| headers.get(*name))
        .ok_or_else(|| TeeError::Fetch {
            url: url.to_owned(),
            detail: format!("no {} header", names.join(" or ")),
        })?;
    let text = value.to_str().map_err(|e| TeeError::Fetch {
        url: url.to_owned(),
        detail: format!("{} header is not text: {e}", names[0]),
    })?;
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| TeeError::Fetch {
            url: url.to_owned(),
            detail: format!("{} header is not URL-encoded UTF-8: {e}", names[0]),
        })
}

/// PCS's `{"<field>": {...}, "signature": "<hex>"}`: the signed object's
/// exact text (the signature covers those bytes) and the signature.
fn signed_json(url: &str, body: &[u8], field: &str) -> Result<(String, Vec<u8>), TeeError> {
    #[derive(serde::Deserialize)]
    struct Signed<'a> {
        #[serde(borrow, rename = "tcbInfo", alias = "enclaveIdentity")]
        body: &'a serde_json::value::RawValue,
        signature: String,
    }
    let error = |detail: String| TeeError::Fetch {
        url: url.to_owned(),
        detail,
    };
    let signed: Signed<'_> = serde_json::from_slice(body)
        .map_err(|e| error(format!("not a signed `{field}` document: {e}")))?;
    let signature =
        hex::decode(&signed.signature).map_err(|e| error(format!("signature is not hex: {e}")))?;
    Ok((signed.body.get().to_owned(), signature))
}
