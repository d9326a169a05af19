//! A bundle that arrives in chunks (a download): its bytes gathered in one buffer, and its
//! canonical digest ([`super::digest`]) computed while they come, so that a verified load need not
//! hash the whole file once the last byte is in ("loading at the speed of the bytes", issue 18).
//!
//! The caller pushes chunks in file order ([`BundleStream::push`]) and, whenever it is waiting
//! for the network, lets the stream hash some of what it holds ([`BundleStream::hash`]). Hashing
//! follows the digest plan of the header ([`super::digest::plan`]): the canonical order of the
//! tensors' data, which is file order for every bundle our writer makes; a file laid out in
//! another order is hashed as far as its bytes allow, and the rest at [`BundleStream::finish`].
//!
//! A stream may hash the file as it is instead ([`HashOrder::File`]), for a page that checks the
//! file against a hash of its own (Subresource Integrity) and loads it without the digest check.
//!
//! Invariants: `bytes` never holds more than the header declares once the header is in (a longer
//! stream is refused at the chunk that overflows it); the whole declared length is reserved once,
//! fallibly, when the header is complete (no doubling growth, no abort on a hostile length); what
//! has been hashed is exactly the plan's stream up to (`next`, `done`).

use sha2::{Digest as _, Sha256};

use super::container;
use super::digest::{self, PlanPiece};
use super::format::BundleOptions;
use crate::error::BundleError;

/// A bundle being received: see the module docs.
pub struct BundleStream {
    bytes: Vec<u8>,
    /// The file's length as its header declares it, once the header is in.
    declared: Option<usize>,
    order: HashOrder,
    hashing: Hashing,
}

/// What a [`BundleStream`] hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOrder {
    /// The bundle's canonical digest ([`super::digest`]), checked against the one it records.
    Canonical,
    /// SHA-256 of the file as it is, byte 0 to the end, for a caller that checks the file against
    /// a hash of its own (Subresource Integrity): never waits, the bytes come in this order.
    File,
}

/// Where the digest stands.
enum Hashing {
    /// The header is not complete yet.
    Waiting,
    /// Following the header's digest plan: `done` bytes of piece `next` are hashed, and every
    /// piece before it.
    Planned {
        pieces: Vec<PlanPiece>,
        next: usize,
        done: usize,
        hasher: Sha256,
        /// Bytes of file data the plan hashes in all, and how many of them are hashed.
        planned: usize,
        hashed: usize,
    },
    /// The header records no well-formed digest: nothing to hash; the load names the problem
    /// (or skips the check when verification is off).
    Off,
}

impl BundleStream {
    /// An empty stream. `size_hint`: the file's length if the transport announces it (HTTP
    /// `Content-Length`), reserved up front when the memory is there; the header's own
    /// declaration decides in the end.
    pub fn new(size_hint: Option<usize>) -> Self {
        Self::hashing(size_hint, HashOrder::Canonical)
    }

    /// An empty stream hashing in `order` ([`BundleStream::new`] hashes the canonical digest).
    pub fn hashing(size_hint: Option<usize>, order: HashOrder) -> Self {
        let mut bytes = Vec::new();
        if let Some(n) = size_hint {
            // A hint too large for this device is ignored here; the header's length is what counts.
            let _ = bytes.try_reserve_exact(n);
        }
        Self {
            bytes,
            declared: None,
            order,
            hashing: Hashing::Waiting,
        }
    }

    /// Appends the next chunk of the file. Errors: the header's own (a header length above the
    /// limit as soon as its first 8 bytes are in; a malformed header as soon as it is complete),
    /// [`BundleError::Container`] for bytes beyond the length the header declares,
    /// [`BundleError::TooLarge`] when the declared length is more than the address space holds,
    /// [`BundleError::OutOfMemory`] when the memory cannot grow to hold it. After an
    /// error the stream is unusable: the caller stops the download.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), BundleError> {
        self.push_with(chunk.len(), |dst| {
            // SAFETY: `dst` holds exactly chunk.len() bytes (push_with's contract), does not
            // overlap `chunk` (it is the stream's own spare capacity), and is initialized by
            // the copy before it is viewed as `[u8]`.
            unsafe {
                std::ptr::copy_nonoverlapping(chunk.as_ptr(), dst.as_mut_ptr().cast(), chunk.len());
                &mut *(std::ptr::from_mut(dst) as *mut [u8])
            }
        })
    }

    /// [`push`](Self::push) of a chunk of `len` bytes that `fill` writes straight into the
    /// stream's buffer (the wasm layer copies a page's `Uint8Array` there: no second copy).
    /// `fill` gets exactly `len` uninitialized bytes and returns them initialized (as
    /// `copy_to_uninit` does); anything else is [`BundleError::Container`] and appends nothing.
    pub fn push_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [std::mem::MaybeUninit<u8>]) -> &mut [u8],
    ) -> Result<(), BundleError> {
        if let Some(declared) = self.declared {
            if len > declared - self.bytes.len() {
                return Err(beyond_declared(declared));
            }
        }
        if self.bytes.try_reserve(len).is_err() {
            return Err(cannot_hold(self.bytes.len().saturating_add(len)));
        }
        let Some(spare) = self.bytes.spare_capacity_mut().get_mut(..len) else {
            return Err(cannot_hold(self.bytes.len().saturating_add(len)));
        };
        let start = spare.as_ptr().cast::<u8>();
        let written = fill(spare);
        if written.len() != len || !std::ptr::eq(written.as_ptr(), start) {
            return Err(BundleError::Container(
                "a chunk was not copied whole".into(),
            ));
        }
        // SAFETY: `fill` returned the `len` bytes after the current end, initialized.
        unsafe { self.bytes.set_len(self.bytes.len() + len) };
        if self.declared.is_none() {
            self.read_header()?;
        }
        Ok(())
    }

    /// Reads the header once it is complete: the declared length (checked against what came),
    /// one exact reservation for the rest, and the digest plan.
    fn read_header(&mut self) -> Result<(), BundleError> {
        let Some(header_end) = container::header_end(&self.bytes)? else {
            return Ok(());
        };
        let Some(prefix) = self.bytes.get(..header_end) else {
            return Ok(());
        };
        let (layout, declared) = container::parse_layout_open(prefix)?;
        let declared = usize::try_from(declared).map_err(|_| cannot_hold_u64(declared))?;
        if self.bytes.len() > declared {
            return Err(beyond_declared(declared));
        }
        if self
            .bytes
            .try_reserve_exact(declared - self.bytes.len())
            .is_err()
        {
            return Err(cannot_hold(declared));
        }
        let plan = match self.order {
            HashOrder::Canonical => digest::plan_of(&layout).map(|p| p.pieces),
            HashOrder::File => Ok(vec![PlanPiece::File(0..declared)]),
        };
        self.hashing = match plan {
            Ok(pieces) => {
                let planned = pieces
                    .iter()
                    .map(|p| match p {
                        PlanPiece::File(r) => r.len(),
                        PlanPiece::Bytes(_) => 0,
                    })
                    .sum();
                Hashing::Planned {
                    pieces,
                    next: 0,
                    done: 0,
                    hasher: Sha256::new(),
                    planned,
                    hashed: 0,
                }
            }
            Err(_) => Hashing::Off,
        };
        self.declared = Some(declared);
        Ok(())
    }

    /// Hashes up to `max_bytes` of the file's data that has arrived and is next in the digest's
    /// order (literal pieces of the plan cost nothing and are not counted); returns the number of
    /// data bytes hashed (0: nothing to do until more arrives, or everything is hashed).
    pub fn hash(&mut self, max_bytes: usize) -> usize {
        let received = self.bytes.len();
        let Hashing::Planned {
            pieces,
            next,
            done,
            hasher,
            hashed,
            ..
        } = &mut self.hashing
        else {
            return 0;
        };
        let mut budget = max_bytes;
        while let Some(piece) = pieces.get(*next) {
            match piece {
                PlanPiece::Bytes(b) => hasher.update(b),
                PlanPiece::File(r) => {
                    let from = r.start + *done;
                    let to = r.end.min(received).min(from.saturating_add(budget));
                    if to > from {
                        if let Some(data) = self.bytes.get(from..to) {
                            hasher.update(data);
                        }
                        *done += to - from;
                        *hashed += to - from;
                        budget -= to - from;
                    }
                    if r.start + *done < r.end {
                        break;
                    }
                }
            }
            *next += 1;
            *done = 0;
        }
        max_bytes - budget
    }

    /// The least length the file can have, from what has come: the declared length, else the end
    /// of the header, else its 8-byte length prefix.
    fn wanted(&self) -> u64 {
        match (self.declared, container::header_end(&self.bytes)) {
            (Some(d), _) => d as u64,
            (None, Ok(Some(end))) => end as u64,
            // Fewer than 8 bytes, or a header length over the limit (refused by `push` already).
            (None, _) => container::LEN_PREFIX as u64,
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.bytes.len()
    }

    /// The file's length as its header declares it (`None` until the header is in).
    pub fn declared_len(&self) -> Option<usize> {
        self.declared
    }

    /// Bytes of file data still to hash before the digest is known (0 when there is no digest to
    /// compute: no header yet, or none recorded).
    pub fn unhashed(&self) -> usize {
        match &self.hashing {
            Hashing::Planned {
                planned, hashed, ..
            } => planned - hashed,
            _ => 0,
        }
    }

    /// The bytes received so far (for a caller that hashes them elsewhere, e.g. with the
    /// browser's native SHA-256 when the download outran the hashing here).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of the whole file ([`HashOrder::File`]), its hashing finished here; `None` before
    /// the file is complete or when the stream hashes the canonical digest. Asked once: the
    /// hash is used up.
    pub fn file_sha256(&mut self) -> Option<[u8; 32]> {
        if self.order != HashOrder::File || self.declared != Some(self.bytes.len()) {
            return None;
        }
        self.hash(usize::MAX);
        match std::mem::replace(&mut self.hashing, Hashing::Off) {
            Hashing::Planned { hasher, .. } => Some(hasher.finalize().into()),
            _ => None,
        }
    }

    /// The whole file and the options to load it with: when the digest is to be verified and the
    /// caller computed none, a stream hashing the canonical digest finishes its own hashing and
    /// passes the result as
    /// `computed_digest` (the load compares it with the recorded one: a tampered file is the
    /// same [`BundleError::DigestMismatch`] as ever). Errors: [`BundleError::Truncated`] when
    /// fewer bytes came than the header declares (or no complete header at all).
    pub fn finish(
        mut self,
        mut options: BundleOptions,
    ) -> Result<(Vec<u8>, BundleOptions), BundleError> {
        if self.declared != Some(self.bytes.len()) {
            return Err(BundleError::Truncated {
                expected: self.wanted(),
                found: self.bytes.len() as u64,
            });
        }
        if options.verify_digest
            && options.computed_digest.is_none()
            && self.order == HashOrder::Canonical
        {
            self.hash(usize::MAX);
            if let Hashing::Planned { hasher, .. } = self.hashing {
                options.computed_digest = Some(digest::hex_digest(&hasher.finalize()));
            }
        }
        Ok((self.bytes, options))
    }
}

fn beyond_declared(declared: usize) -> BundleError {
    BundleError::Container(format!(
        "more bytes than the header declares ({declared} in all)"
    ))
}

/// The memory could not grow to `bytes` (an allocation failed).
fn cannot_hold(bytes: usize) -> BundleError {
    BundleError::OutOfMemory {
        what: "the bundle".into(),
        bytes: bytes as u64,
    }
}

/// The declared length is more than the address space holds.
fn cannot_hold_u64(bytes: u64) -> BundleError {
    BundleError::TooLarge {
        what: "bundle length (memory)".into(),
        found: bytes,
        limit: usize::MAX as u64,
    }
}
