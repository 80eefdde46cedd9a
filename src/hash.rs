//! Keyed hashing (HMAC-SHA-256) and base64url decoding, written here so the filter needs no crypto
//! dependency. Credential ids are the first 8 bytes of `HMAC-SHA-256(secret, domain || value)`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

const H0: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// Incremental SHA-256.
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    block: [u8; 64],
    block_len: usize,
    total_len: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self { state: H0, block: [0; 64], block_len: 0, total_len: 0 }
    }
}

impl Sha256 {
    /// Feeds bytes into the hash.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let take = (64 - self.block_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.block.get_mut(self.block_len..self.block_len + take) {
                dst.copy_from_slice(head);
            }
            self.block_len += take;
            data = rest;
            if self.block_len == 64 {
                let block = self.block;
                compress(&mut self.state, &block);
                self.block_len = 0;
            }
        }
    }

    /// Returns the 32-byte digest.
    pub fn finish(mut self) -> [u8; 32] {
        let bit_len = self.total_len.wrapping_mul(8);
        // 0x80, zeros up to 56 bytes into a block, then the length: one or two blocks, padded at once.
        let mut pad = [0u8; 72];
        if let Some(first) = pad.first_mut() {
            *first = 0x80;
        }
        let zeros = (64 + 55 - self.block_len) % 64;
        if let Some(dst) = pad.get_mut(1 + zeros..1 + zeros + 8) {
            dst.copy_from_slice(&bit_len.to_be_bytes());
        }
        self.update(pad.get(..1 + zeros + 8).unwrap_or(&[]));
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state.iter()) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

// Indices are loop-bounded within the fixed 64-entry schedule.
#[allow(clippy::indexing_slicing)]
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, wi) in K.iter().zip(w.iter()) {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h.wrapping_add(s1).wrapping_add(ch).wrapping_add(*k).wrapping_add(*wi);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// SHA-256 of one byte string.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::default();
    h.update(data);
    h.finish()
}

/// A precomputed HMAC-SHA-256 key: the inner and outer states after the padded key block, and this
/// worker's memo of the ids it computed ([`HmacKey::id`]).
#[derive(Clone)]
pub struct HmacKey {
    inner: Sha256,
    outer: Sha256,
    ids: IdMemo,
}

impl HmacKey {
    /// Prepares a key of any length (RFC 2104).
    pub fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            let digest = sha256(key);
            if let Some(dst) = block.get_mut(..32) {
                dst.copy_from_slice(&digest);
            }
        } else if let Some(dst) = block.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        let mut inner = Sha256::default();
        let mut outer = Sha256::default();
        inner.update(&block.map(|b| b ^ 0x36));
        outer.update(&block.map(|b| b ^ 0x5c));
        let mut key = Self { inner, outer, ids: IdMemo::default() };
        // The memo's digest keys come from the secret, so its entries cannot be aimed at by anyone
        // who does not know it.
        let seed = key.mac(&[b"distill-guard id memo"]);
        key.ids = IdMemo::new(&seed);
        key
    }

    /// The first 8 bytes of the HMAC over the concatenation of `parts`, from this worker's memo when it
    /// computed them recently (see [`IdMemo`]).
    pub fn id(&self, parts: &[&[u8]]) -> [u8; 8] {
        let digest = self.ids.digest(parts);
        if let Some(id) = self.ids.get(digest) {
            return id;
        }
        let mut id = [0u8; 8];
        if let Some(head) = self.mac(parts).get(..8) {
            id.copy_from_slice(head);
        }
        self.ids.insert(digest, id);
        id
    }

    /// Entries in this worker's memo of ids.
    pub fn memo_len(&self) -> usize {
        self.ids.len()
    }

    /// HMAC over the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        for p in parts {
            inner.update(p);
        }
        let mut outer = self.outer.clone();
        outer.update(&inner.finish());
        outer.finish()
    }
}

/// Entries a generation of the id memo holds (7/8 of a 8,192-slot table); the memo keeps two: at most
/// `2 * ID_MEMO_GENERATION` entries of 24 bytes, about 400 KB a worker.
pub const ID_MEMO_GENERATION: usize = 7_168;

/// A worker's memo of credential ids: an HMAC-SHA-256 costs about 9,000 instructions, a look-up a few
/// hundred. It holds no credential: an entry is the 128-bit keyed digest of the hashed value (two
/// SipHash-1-3 with keys derived from the secret) and the 8-byte id. Two values share an entry only
/// if their 128-bit digests collide, which nobody without the secret can arrange (by chance: about
/// 2^-128 a pair). Bounded: when the current generation is full it becomes the previous one (the one
/// before is dropped); an id found in the previous generation moves to the current one.
#[derive(Clone, Default)]
pub struct IdMemo {
    keys: [u64; 4],
    generations: RefCell<[HashMap<Digest, [u8; 8], DigestHasher>; 2]>,
}

impl IdMemo {
    /// An empty memo with digest keys taken from `seed`.
    fn new(seed: &[u8; 32]) -> Self {
        let mut keys = [0u64; 4];
        for (k, chunk) in keys.iter_mut().zip(seed.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *k = u64::from_le_bytes(b);
        }
        Self { keys, generations: RefCell::default() }
    }

    fn digest(&self, parts: &[&[u8]]) -> Digest {
        let [a, b, c, d] = self.keys;
        Digest(siphash13(a, b, parts), siphash13(c, d, parts))
    }

    fn get(&self, digest: Digest) -> Option<[u8; 8]> {
        let mut g = self.generations.try_borrow_mut().ok()?;
        let [current, previous] = &mut *g;
        if let Some(id) = current.get(&digest) {
            return Some(*id);
        }
        let id = previous.remove(&digest)?;
        drop(g);
        self.insert(digest, id);
        Some(id)
    }

    fn insert(&self, digest: Digest, id: [u8; 8]) {
        let Ok(mut g) = self.generations.try_borrow_mut() else { return };
        let [current, previous] = &mut *g;
        if current.len() >= ID_MEMO_GENERATION {
            *previous = std::mem::take(current);
        }
        current.insert(digest, id);
    }

    /// Entries held (both generations).
    pub fn len(&self) -> usize {
        self.generations.try_borrow().map_or(0, |g| g.iter().map(HashMap::len).sum())
    }

    /// True when the memo holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A 128-bit keyed digest (the memo's key).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Digest(u64, u64);

impl std::hash::Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// The memo's keys are already keyed digests: their first half is the table's hash.
#[derive(Clone, Copy, Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl BuildHasher for DigestHasher {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// SipHash-1-3 (keys `k0`, `k1`) of the concatenation of `parts`.
pub fn siphash13(k0: u64, k1: u64, parts: &[&[u8]]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let compress = |m: u64, v: &mut [u64; 4]| {
        v[3] ^= m;
        round(v);
        v[0] ^= m;
    };
    let (mut tail, mut filled, mut len) = (0u64, 0usize, 0u64);
    for part in parts {
        len = len.wrapping_add(part.len() as u64);
        let mut bytes = *part;
        // Bytes up to a word boundary, then whole words, then the rest into the tail.
        while filled != 0 && !bytes.is_empty() {
            if let Some((b, rest)) = bytes.split_first() {
                tail |= u64::from(*b) << (8 * filled);
                filled = (filled + 1) % 8;
                bytes = rest;
                if filled == 0 {
                    compress(tail, &mut v);
                    tail = 0;
                }
            }
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            compress(u64::from_le_bytes(b), &mut v);
        }
        for (i, b) in words.remainder().iter().enumerate() {
            tail |= u64::from(*b) << (8 * i);
            filled = i + 1;
        }
    }
    compress(tail | ((len & 0xff) << 56), &mut v);
    v[2] ^= 0xff;
    for _ in 0..3 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 15] {
            s.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    s
}

/// 64-bit FNV-1a: a fast unkeyed hash for slot placement and fingerprints (never for secrets).
pub fn fnv1a64(data: &[u8]) -> u64 {
    fnv1a64_extend(0xcbf2_9ce4_8422_2325, data)
}

/// Continues an FNV-1a hash `h` over more bytes: `fnv1a64_extend(fnv1a64(a), b)` is the hash of `a`
/// followed by `b`.
pub fn fnv1a64_extend(mut h: u64, data: &[u8]) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A fast unkeyed 64-bit hash of longer texts (prompt content, system prompts): eight bytes a step,
/// each word mixed with a multiply-xorshift, the length folded in. Not for secrets.
pub fn words64(data: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ (data.len() as u64).wrapping_mul(K);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut last = [0u8; 8];
    for (d, s) in last.iter_mut().zip(chunks.remainder()) {
        *d = *s;
    }
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^= h >> 32;
    h = h.wrapping_mul(K);
    h ^ (h >> 29)
}

/// Decodes base64url (with or without padding; standard-alphabet `+` and `/` accepted too).
/// Returns `None` on any invalid character or an impossible length.
pub fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let trimmed = input.trim_end_matches('=');
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in trimmed.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words64_depends_on_every_byte_and_the_length() {
        let base = b"the quick brown fox jumps over the lazy dog".to_vec();
        let h = words64(&base);
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i] ^= 1;
            assert_ne!(words64(&changed), h, "byte {i}");
        }
        assert_ne!(words64(b"abc"), words64(b"abc\0"));
        assert_eq!(words64(&base), h);
    }

    #[test]
    fn sha256_matches_known_vectors() {
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(&sha256(long)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }

    #[test]
    fn padding_at_every_length_matches_the_definition() {
        // FIPS 180-4 padding written out per byte: 0x80, zeros to 56 mod 64, the bit length.
        for n in 0..200usize {
            let msg: Vec<u8> = (0..n).map(|i| (i * 31 + 7) as u8).collect();
            let mut padded = msg.clone();
            padded.push(0x80);
            while padded.len() % 64 != 56 {
                padded.push(0);
            }
            padded.extend_from_slice(&((n as u64) * 8).to_be_bytes());
            let mut state = H0;
            for block in padded.chunks_exact(64) {
                compress(&mut state, block.try_into().unwrap());
            }
            let expected: Vec<u8> = state.iter().flat_map(|w| w.to_be_bytes()).collect();
            // Fed whole and fed in uneven pieces.
            assert_eq!(sha256(&msg).to_vec(), expected, "length {n}");
            let mut h = Sha256::default();
            for piece in msg.chunks(13) {
                h.update(piece);
            }
            assert_eq!(h.finish().to_vec(), expected, "length {n} in pieces");
        }
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let key = HmacKey::new(b"Jefe");
        assert_eq!(
            hex(&key.mac(&[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn siphash13_is_the_standard_one_and_parts_concatenate() {
        use std::hash::Hasher;
        for len in 0..40usize {
            let data: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            #[allow(deprecated)]
            let mut std13 = std::collections::hash_map::DefaultHasher::new();
            std13.write(&data);
            assert_eq!(siphash13(0, 0, &[&data]), std13.finish(), "length {len}");
            for cut in 0..=len {
                let (a, b) = data.split_at(cut);
                assert_eq!(siphash13(7, 9, &[a, b]), siphash13(7, 9, &[&data]));
            }
        }
        assert_ne!(siphash13(1, 2, &[b"key"]), siphash13(1, 3, &[b"key"]));
    }

    #[test]
    fn the_id_memo_answers_the_hmac_stays_bounded_and_keeps_values_apart() {
        let key = HmacKey::new(b"memo-test-secret");
        let direct = |v: &str| {
            let mac = key.mac(&[b"key", b"\0", v.as_bytes()]);
            let mut id = [0u8; 8];
            id.copy_from_slice(&mac[..8]);
            id
        };
        let n = 2 * ID_MEMO_GENERATION + 500;
        let mut seen = std::collections::HashSet::new();
        for round in 0..2 {
            for i in 0..n {
                let v = format!("sk-{i}");
                let id = key.id(&[b"key", b"\0", v.as_bytes()]);
                assert_eq!(id, direct(&v), "round {round}, {v}");
                if round == 0 {
                    assert!(seen.insert(id), "two values never share an id");
                }
                assert!(key.memo_len() <= 2 * ID_MEMO_GENERATION);
            }
        }
        // The same value under another domain (a claim, not a key) is another entry.
        let claim = key.id(&[b"claim", b"\0", b"sk-1"]);
        assert_ne!(claim, key.id(&[b"key", b"\0", b"sk-1"]));
        // Hits: a value just computed is answered from the memo, which then holds it once.
        let len = key.memo_len();
        key.id(&[b"key", b"\0", b"sk-1"]);
        assert_eq!(key.memo_len(), len);
        // A clone of the key (another policy object) answers the same.
        let other = key.clone();
        assert_eq!(other.id(&[b"key", b"\0", b"sk-77"]), direct("sk-77"));
    }

    #[test]
    fn hmac_hashes_long_keys_first() {
        let key = HmacKey::new(&[0xaa; 131]);
        assert_eq!(
            hex(&key.mac(&[b"Test Using Larger Than Block-Size Key - Hash Key First"])),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn base64url_decodes_with_and_without_padding() {
        assert_eq!(base64url_decode("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert_eq!(base64url_decode("eyJhIjoxfQ==").unwrap(), br#"{"a":1}"#);
        assert_eq!(base64url_decode("_-8").unwrap(), vec![0xff, 0xef]);
        assert!(base64url_decode("a").is_none());
        assert!(base64url_decode("ab$c").is_none());
    }
}
