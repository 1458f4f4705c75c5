//! The simulator's numbers: deterministic functions of (appid, day, field), so a
//! test can compute exactly what the exporter should serve, and a demo shows
//! plausible values that change from day to day.

/// The hash every simulated number comes from.
pub fn hash(parts: &[&str]) -> u64 {
    crate::fnv::hash_parts(parts)
}

/// A whole number in `lo..hi`.
pub fn int(parts: &[&str], lo: u64, hi: u64) -> u64 {
    lo + hash(parts) % (hi - lo).max(1)
}

/// A number in `lo..hi` with four decimals, as WeChat gives averages.
pub fn dec4(parts: &[&str], lo: f64, hi: f64) -> f64 {
    let unit = (hash(parts) % 1_000_000) as f64 / 1_000_000.0;
    ((lo + unit * (hi - lo)) * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_kept_apart() {
        assert_ne!(hash(&["ab", "c"]), hash(&["a", "bc"]));
        assert_eq!(int(&["a"], 5, 6), 5);
        let d = dec4(&["x"], 1.0, 2.0);
        assert!((1.0..2.0).contains(&d) && (d * 10_000.0).fract() == 0.0);
    }
}
