//! Chunked `times.sync`: splitting a server's full list of times into envelopes that each fit
//! one Discord message, and putting the list back together on the receiving side.

use crate::encoding::to_ascii_json;
use crate::envelope::{
    Body, EncodeError, Envelope, EnvelopeText, MAX_WIRE_BYTES, Nonce, Registration,
    SIGNATURE_CHARS, SyncChunk, Ttl,
};
use crate::keys::SigningSecret;
use crate::{ServerName, Snowflake};
use chrono::{DateTime, Utc};
use rand_core::CryptoRngCore;
use std::collections::{BTreeMap, HashMap};

/// The most chunks one sync may have; it bounds what a receiver buffers per peer.
pub const MAX_SYNC_CHUNKS: u32 = 4096;

/// Why a sync could not be split or put back together.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// One registration alone does not fit in an envelope.
    #[error("the registration of member {0} is too large to fit in one envelope")]
    RegistrationTooLarge(Snowflake),
    /// The list needs more than [`MAX_SYNC_CHUNKS`] envelopes.
    #[error("the sync would need more than {MAX_SYNC_CHUNKS} envelopes")]
    TooManyChunks,
    /// Encoding an envelope failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// No chunks were given.
    #[error("a sync needs at least one chunk")]
    Empty,
    /// Chunks of different syncs, or with different counts, were mixed.
    #[error("the chunks do not belong to one sync (different sync ids or counts)")]
    Mixed,
    /// The same index arrived twice.
    #[error("chunk {0} of the sync arrived twice")]
    DuplicateChunk(u32),
    /// Some indices are missing.
    #[error("the sync is incomplete: {missing} of {count} chunks are missing")]
    Incomplete {
        /// How many chunks are missing.
        missing: u32,
        /// How many chunks the sync has.
        count: u32,
    },
}

/// Splits `registrations` into signed `times.sync` envelopes from `src` to `dst`, each of which
/// fits in one Discord message, in chunk order.
///
/// Registrations are packed greedily in the given order. An empty list still produces one
/// (empty) chunk, because a sync replaces what the receiver knew and "nothing" is news too.
pub fn split_sync(
    src: &ServerName,
    dst: &ServerName,
    registrations: &[Registration],
    now: DateTime<Utc>,
    key: &SigningSecret,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<EnvelopeText>, SyncError> {
    split_sync_with_ttl(src, dst, registrations, now, Ttl::default(), key, rng)
}

/// [`split_sync`] with every chunk carrying `ttl`: a sync sent in answer to a hello carries
/// the hello's `ttl - 1` (SPEC §3).
pub fn split_sync_with_ttl(
    src: &ServerName,
    dst: &ServerName,
    registrations: &[Registration],
    now: DateTime<Utc>,
    ttl: Ttl,
    key: &SigningSecret,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<EnvelopeText>, SyncError> {
    let sync = Nonce::generate(rng);
    // Measure the envelope without registrations, with the widest index and count the format
    // allows, so that real chunks can only be shorter than the estimate.
    let widest =
        SyncChunk::new(sync, u32::MAX - 1, u32::MAX, Vec::new()).expect("index is below count");
    let empty =
        Envelope::new(src.clone(), dst.clone(), Body::TimesSync(widest), now, rng).with_ttl(ttl);
    let overhead = empty.payload().map_err(EncodeError::from)?.len() + 1 + SIGNATURE_CHARS;
    let budget = MAX_WIRE_BYTES.saturating_sub(overhead);

    let mut groups: Vec<Vec<Registration>> = vec![Vec::new()];
    let mut used = 0;
    for registration in registrations {
        let len = to_ascii_json(registration)
            .map_err(EncodeError::from)?
            .len();
        if len > budget {
            return Err(SyncError::RegistrationTooLarge(registration.member));
        }
        let current = groups.last_mut().expect("groups is never empty");
        // Every registration after the first in a chunk costs one more byte for the comma.
        let cost = if current.is_empty() { len } else { len + 1 };
        if used + cost <= budget {
            current.push(registration.clone());
            used += cost;
        } else {
            groups.push(vec![registration.clone()]);
            used = len;
        }
    }

    let count = u32::try_from(groups.len()).map_err(|_| SyncError::TooManyChunks)?;
    if count > MAX_SYNC_CHUNKS {
        return Err(SyncError::TooManyChunks);
    }
    groups
        .into_iter()
        .zip(0..)
        .map(|(regs, index)| {
            let chunk = SyncChunk::new(sync, index, count, regs).expect("index is below count");
            let envelope =
                Envelope::new(src.clone(), dst.clone(), Body::TimesSync(chunk), now, rng)
                    .with_ttl(ttl);
            Ok(envelope.sign(key)?)
        })
        .collect()
}

/// Puts the chunks of one sync back together, in index order. The chunks may come in any order,
/// but every index from `0` to `count - 1` must be present exactly once.
pub fn reassemble_sync(
    chunks: impl IntoIterator<Item = SyncChunk>,
) -> Result<Vec<Registration>, SyncError> {
    let mut pending: Option<Pending> = None;
    for chunk in chunks {
        match &mut pending {
            None => pending = Some(Pending::start(chunk)),
            Some(state) => state.add(chunk)?,
        }
    }
    pending.ok_or(SyncError::Empty)?.finish()
}

/// A partly received sync.
#[derive(Debug)]
struct Pending {
    sync: Nonce,
    count: u32,
    chunks: BTreeMap<u32, Vec<Registration>>,
}

impl Pending {
    fn start(chunk: SyncChunk) -> Self {
        let (sync, index, count) = (chunk.sync_id(), chunk.index(), chunk.count());
        Self {
            sync,
            count,
            chunks: BTreeMap::from([(index, chunk.into_registrations())]),
        }
    }

    fn add(&mut self, chunk: SyncChunk) -> Result<(), SyncError> {
        if chunk.sync_id() != self.sync || chunk.count() != self.count {
            return Err(SyncError::Mixed);
        }
        let index = chunk.index();
        if self.chunks.contains_key(&index) {
            return Err(SyncError::DuplicateChunk(index));
        }
        self.chunks.insert(index, chunk.into_registrations());
        Ok(())
    }

    fn is_complete(&self) -> bool {
        // Indices are below `count` by construction and unique as map keys.
        self.chunks.len() == self.count as usize
    }

    fn finish(self) -> Result<Vec<Registration>, SyncError> {
        if !self.is_complete() {
            let missing = self.count - self.chunks.len() as u32;
            return Err(SyncError::Incomplete {
                missing,
                count: self.count,
            });
        }
        Ok(self.chunks.into_values().flatten().collect())
    }
}

/// Collects `times.sync` chunks as they arrive, one pending sync per sending server.
///
/// A chunk of a new sync from the same sender discards the unfinished older one: a newer sync
/// supersedes it, and this bounds memory to one sync per peer.
#[derive(Debug, Default)]
pub struct SyncAssembler {
    pending: HashMap<ServerName, Pending>,
}

impl SyncAssembler {
    /// Adds a verified chunk from `src`. Returns the full list once the last chunk is in.
    ///
    /// On an error the sender's pending sync is dropped; the sender should sync again.
    pub fn accept(
        &mut self,
        src: &ServerName,
        chunk: SyncChunk,
    ) -> Result<Option<Vec<Registration>>, SyncError> {
        if chunk.count() > MAX_SYNC_CHUNKS {
            self.pending.remove(src);
            return Err(SyncError::TooManyChunks);
        }
        let state = match self.pending.remove(src) {
            Some(mut state) if state.sync == chunk.sync_id() => {
                state.add(chunk)?;
                state
            }
            _ => Pending::start(chunk),
        };
        if state.is_complete() {
            return state.finish().map(Some);
        }
        self.pending.insert(src.clone(), state);
        Ok(None)
    }

    /// Forgets the pending sync from `src`, for example after `peer.bye`.
    pub fn forget(&mut self, src: &ServerName) {
        self.pending.remove(src);
    }
}
