//! Keeping a server's endorsements current: load them from the disk cache
//! or fetch them from AMD KDS / Intel PCS at start-up, then refresh them in
//! the background before they expire. The producer reads the current ones
//! through a [`LiveEndorsement`] for every evidence bundle, so a client
//! verifies offline with what the server ships.
//!
//! The refresh decision is pure ([`needs_refresh`](crate::needs_refresh),
//! with the time passed in); only [`Endorser::spawn_refresh`] reads the clock
//! for it (the clock also stamps when an endorsement was obtained, for the
//! metrics).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use veil_attest::EndorsementTimes;

use crate::cache::{EndorsementCache, collateral_next_update, needs_refresh, snp_chain_not_after};
use crate::endorsements::{SnpCertificates, TdxCollateral};
use crate::error::TeeError;
use crate::fetch::Fetcher;
use crate::kds::VcekRequest;
use crate::pcs::PcsRequest;

/// An endorsement a producer ships with its reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endorsement {
    /// SEV-SNP: VCEK, ASK (and ARK).
    Snp(SnpCertificates),
    /// TDX / SGX: Intel PCS collateral.
    Intel(TdxCollateral),
}

impl Endorsement {
    /// When it must be replaced (unix seconds): the chain's earliest
    /// `notAfter`, or the collateral's earliest `nextUpdate`.
    pub fn expires_at(&self) -> Result<u64, TeeError> {
        match self {
            Endorsement::Snp(certs) => snp_chain_not_after(certs),
            Endorsement::Intel(collateral) => collateral_next_update(collateral.as_bytes()),
        }
    }
}

/// The current endorsement, shared between the producer (which reads it
/// for every report) and the [`Endorser`] (which replaces it).
#[derive(Debug, Clone, Default)]
pub struct LiveEndorsement(Arc<RwLock<Option<Held>>>);

/// An endorsement with the times the metrics report.
#[derive(Debug, Clone)]
struct Held {
    endorsement: Endorsement,
    times: EndorsementTimes,
}

impl Held {
    fn now(endorsement: Endorsement) -> Self {
        let obtained_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires_at = endorsement.expires_at().ok();
        Held {
            endorsement,
            times: EndorsementTimes {
                obtained_at,
                expires_at,
            },
        }
    }
}

impl LiveEndorsement {
    /// A value that never changes (operator-provided files).
    pub fn fixed(endorsement: Endorsement) -> Self {
        LiveEndorsement(Arc::new(RwLock::new(Some(Held::now(endorsement)))))
    }

    fn read(&self) -> Option<Held> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current endorsement, if any.
    pub fn get(&self) -> Option<Endorsement> {
        self.read().map(|h| h.endorsement)
    }

    /// When the current endorsement was obtained and when it expires.
    pub fn times(&self) -> Option<EndorsementTimes> {
        self.read().map(|h| h.times)
    }

    /// Replaces the current endorsement.
    pub(crate) fn replace(&self, endorsement: Endorsement) {
        self.set(endorsement);
    }

    fn set(&self, endorsement: Endorsement) {
        let held = Held::now(endorsement);
        match self.0.write() {
            Ok(mut guard) => *guard = Some(held),
            Err(poisoned) => *poisoned.into_inner() = Some(held),
        }
    }
}

/// What to fetch: one chip's VCEK, or one platform's Intel collateral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndorsementTarget {
    /// AMD KDS: the VCEK for a chip and TCB.
    Snp(VcekRequest),
    /// Intel PCS: the collateral for an FMSPC.
    Intel(PcsRequest),
}

impl EndorsementTarget {
    fn cache_name(&self) -> String {
        match self {
            EndorsementTarget::Snp(r) => r.cache_name(),
            EndorsementTarget::Intel(r) => r.cache_name(),
        }
    }
}

/// Where the endorsement in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndorsementOrigin {
    /// The disk cache, not yet due for refresh.
    Cache,
    /// Fetched now (and stored in the cache).
    Fetched,
    /// The disk cache, due for refresh but still valid, because fetching failed.
    StaleCache,
}

/// Loads, fetches, caches and refreshes one endorsement.
#[derive(Debug)]
pub struct Endorser {
    cache: EndorsementCache,
    fetcher: Fetcher,
    target: EndorsementTarget,
    live: LiveEndorsement,
}

impl Endorser {
    /// An endorser for `target`, caching in `cache`.
    pub fn new(cache: EndorsementCache, fetcher: Fetcher, target: EndorsementTarget) -> Self {
        Self::with_live(cache, fetcher, target, LiveEndorsement::default())
    }

    /// An endorser that keeps `live` current (the slot a producer reads).
    pub fn with_live(
        cache: EndorsementCache,
        fetcher: Fetcher,
        target: EndorsementTarget,
        live: LiveEndorsement,
    ) -> Self {
        Endorser {
            cache,
            fetcher,
            target,
            live,
        }
    }

    /// The endorsement the producer should read.
    pub fn live(&self) -> LiveEndorsement {
        self.live.clone()
    }

    /// The cache file of the target.
    pub fn cache_path(&self) -> PathBuf {
        self.cache.path(&self.target.cache_name())
    }

    fn load_cached(&self) -> Option<(Endorsement, u64)> {
        let name = self.target.cache_name();
        let cached = match &self.target {
            EndorsementTarget::Snp(_) => {
                self.cache.load_snp(&name).map(|c| c.map(Endorsement::Snp))
            }
            EndorsementTarget::Intel(_) => self
                .cache
                .load_intel(&name)
                .map(|c| c.map(Endorsement::Intel)),
        };
        let endorsement = match cached {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an unreadable cached endorsement");
                return None;
            }
        };
        match endorsement.expires_at() {
            Ok(expires) => Some((endorsement, expires)),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a cached endorsement without a readable expiry");
                None
            }
        }
    }

    async fn fetch_and_store(&self) -> Result<Endorsement, TeeError> {
        let fetched = match &self.target {
            EndorsementTarget::Snp(r) => Endorsement::Snp(self.fetcher.fetch_snp(r).await?),
            EndorsementTarget::Intel(r) => Endorsement::Intel(self.fetcher.fetch_intel(r).await?),
        };
        fetched.expires_at()?;
        let name = self.target.cache_name();
        match &fetched {
            Endorsement::Snp(c) => self.cache.store_snp(&name, c)?,
            Endorsement::Intel(c) => self.cache.store_intel(&name, c)?,
        }
        Ok(fetched)
    }

    /// At start-up: the cached endorsement if it is not due for refresh,
    /// else a fetched one; if fetching fails, a cached one that is still
    /// valid at `now`. Fails, naming the cache file and the fetch error,
    /// when neither has one.
    pub async fn load(&self, now: u64) -> Result<EndorsementOrigin, TeeError> {
        let cached = self.load_cached();
        if let Some((endorsement, expires)) = &cached
            && !needs_refresh(now, *expires)
        {
            self.live.set(endorsement.clone());
            return Ok(EndorsementOrigin::Cache);
        }
        match self.fetch_and_store().await {
            Ok(fetched) => {
                self.live.set(fetched);
                Ok(EndorsementOrigin::Fetched)
            }
            Err(fetch_error) => match cached {
                Some((endorsement, expires)) if now < expires => {
                    tracing::warn!(error = %fetch_error, "endorsement refresh failed; using the cached one until it expires");
                    self.live.set(endorsement);
                    Ok(EndorsementOrigin::StaleCache)
                }
                _ => Err(TeeError::MissingEndorsement(format!(
                    "no {} valid now: the cache ({}) has none, and fetching it failed: {fetch_error}. \
                     On a site without access to the vendor service, provide the files instead \
                     (--snp-certs DIR or --tdx-collateral FILE)",
                    self.what(),
                    self.cache_path().display()
                ))),
            },
        }
    }

    fn what(&self) -> &'static str {
        match self.target {
            EndorsementTarget::Snp(_) => "VCEK chain (AMD KDS)",
            EndorsementTarget::Intel(_) => "Intel collateral (PCS)",
        }
    }

    /// Fetches a new endorsement if the current one is due at `now`.
    /// Returns whether it was replaced; on a fetch error the current one stays.
    pub async fn refresh_if_due(&self, now: u64) -> Result<bool, TeeError> {
        let due = match self.live.get() {
            Some(current) => needs_refresh(now, current.expires_at()?),
            None => true,
        };
        if !due {
            return Ok(false);
        }
        let fetched = self.fetch_and_store().await?;
        self.live.set(fetched);
        Ok(true)
    }

    /// Checks every `period` (wall clock) and refreshes when due; logs
    /// failures and keeps serving the current endorsement.
    pub fn spawn_refresh(self: Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                match self.refresh_if_due(now).await {
                    Ok(true) => tracing::info!(what = self.what(), "endorsement refreshed"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(what = self.what(), error = %e, "endorsement refresh failed")
                    }
                }
            }
        })
    }
}
