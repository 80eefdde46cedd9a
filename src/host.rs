//! The seam between the core and the proxy: the narrow capabilities the core needs, with in-memory
//! fakes for tests. The proxy-wasm adapter implements these over Envoy's shared data.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

/// Why a shared-data write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// Another worker wrote the key since it was read.
    CasMismatch,
    /// The host refused the operation.
    Unavailable,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::CasMismatch => write!(f, "compare-and-swap mismatch"),
            StoreError::Unavailable => write!(f, "shared data unavailable"),
        }
    }
}

/// Process-wide key/value store with compare-and-swap (proxy-wasm shared data).
pub trait SharedStore {
    /// The value and its CAS token, or `None` when the key was never written.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes `value` if the key's CAS token still equals `cas` (`None`: unconditionally).
    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError>;
    /// A read that may be answered from a copy at most `max_age_ms` old, for values where a slightly
    /// stale read is acceptable because every write of them is guarded by CAS (a stale copy makes the
    /// write fail and the caller read again). By default it reads through.
    fn get_recent(&self, key: &str, max_age_ms: u64, now_ms: u64) -> Option<(Vec<u8>, u32)> {
        let _ = (max_age_ms, now_ms);
        self.get(key)
    }
}

/// A copy of a value: bytes, CAS token, when it was read (ms).
type RecentCopy = (Vec<u8>, u32, u64);

/// Recent copies of shared-data values, kept by each VM (bounded: when full it starts over).
#[derive(Debug)]
pub struct RecentReads {
    entries: RefCell<HashMap<String, RecentCopy>>,
    capacity: usize,
}

impl RecentReads {
    /// Room for `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self { entries: RefCell::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A store that answers [`SharedStore::get_recent`] from [`RecentReads`] and forgets a key's copy
/// when it writes the key.
pub struct CachingStore<'a> {
    inner: &'a dyn SharedStore,
    recent: &'a RecentReads,
}

impl<'a> CachingStore<'a> {
    /// `inner` with recent copies in `recent`.
    pub fn new(inner: &'a dyn SharedStore, recent: &'a RecentReads) -> Self {
        Self { inner, recent }
    }
}

impl SharedStore for CachingStore<'_> {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.inner.get(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.recent.entries.borrow_mut().remove(key);
        self.inner.set(key, value, cas)
    }

    fn get_recent(&self, key: &str, max_age_ms: u64, now_ms: u64) -> Option<(Vec<u8>, u32)> {
        if let Some((value, cas, at)) = self.recent.entries.borrow().get(key) {
            if now_ms >= *at && now_ms - *at <= max_age_ms {
                return Some((value.clone(), *cas));
            }
        }
        let (value, cas) = self.inner.get(key)?;
        let mut entries = self.recent.entries.borrow_mut();
        if entries.len() >= self.recent.capacity && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_string(), (value.clone(), cas, now_ms));
        Some((value, cas))
    }
}

/// An in-memory [`SharedStore`] with Envoy's semantics, for tests. It can be told to fail the next
/// N writes with a CAS mismatch to exercise retry paths, and counts host calls.
///
/// As Envoy's shared data (proxy-wasm-cpp-host `SharedData::set`): a write with a CAS token (other
/// than 0) fails when the key exists with another token; when the key is absent it is created
/// whatever the token; token 0 (`None`, or `Some(0)`, which the SDK sends alike) writes
/// unconditionally. Every write takes the next token of one counter for all keys: 1, 2, ...,
/// `u32::MAX`, then 1 again (0 is never issued).
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    /// The token the next write takes (0 stands for 1).
    next_cas: Cell<u32>,
    inject_conflicts: Cell<u32>,
    calls: Cell<u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the CAS token the next write takes (the counter goes on from there; 0 stands for 1), to
    /// reach the end of the host's token range without 4 billion writes.
    pub fn set_next_cas(&self, token: u32) {
        self.next_cas.set(token);
    }

    /// Makes the next `n` writes fail with [`StoreError::CasMismatch`].
    pub fn fail_next_writes(&self, n: u32) {
        self.inject_conflicts.set(n);
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.map.borrow().len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes of keys and values stored.
    pub fn bytes(&self) -> usize {
        self.map.borrow().iter().map(|(k, (v, _))| k.len() + v.len()).sum()
    }

    /// Every key and value (to check that no secret is stored).
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        self.map.borrow().iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect()
    }

    /// Host calls made so far (gets and sets).
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }
}

impl SharedStore for MemoryStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.calls.set(self.calls.get() + 1);
        self.map.borrow().get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.calls.set(self.calls.get() + 1);
        if self.inject_conflicts.get() > 0 {
            self.inject_conflicts.set(self.inject_conflicts.get() - 1);
            return Err(StoreError::CasMismatch);
        }
        let mut map = self.map.borrow_mut();
        if let (Some(expected), Some((_, current))) = (cas.filter(|c| *c != 0), map.get(key)) {
            if expected != *current {
                return Err(StoreError::CasMismatch);
            }
        }
        let token = self.next_cas.get().max(1);
        self.next_cas.set(token.wrapping_add(1));
        map.insert(key.to_string(), (value.to_vec(), token));
        Ok(())
    }
}
