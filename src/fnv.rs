//! FNV-1a: a small hash that is the same on every machine and Rust version, for
//! what must agree across processes (shards) and runs (the simulator's numbers).

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// Continues hash `h` over `bytes`.
pub fn extend(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

pub fn hash(bytes: &[u8]) -> u64 {
    extend(OFFSET, bytes)
}

/// Hashes several parts, kept apart so ("ab", "c") and ("a", "bc") differ.
pub fn hash_parts(parts: &[&str]) -> u64 {
    parts.iter().fold(OFFSET, |h, p| extend(extend(h, p.as_bytes()), &[0xff]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(super::hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(super::hash_parts(&["ab", "c"]), super::hash_parts(&["a", "bc"]));
    }
}
