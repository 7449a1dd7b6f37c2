//! Identifier generation: resource ids (dashed UUIDs, as IEC returns them) and job ids
//! (32 hex characters without dashes, as in the IEC examples).

/// A new random resource id, e.g. `"4a6d9663-475f-11eb-aa7c-fa16406a65c4"`-shaped (UUID v4).
pub fn resource_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new random job id: 32 lowercase hex characters, e.g. `"27123f2849a711eb8a8afa1640495574"`.
pub fn job_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new opaque token string (for IAM tokens); long and unguessable.
pub fn token() -> String {
    format!(
        "MIIEMU{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A short random request id for gateway error bodies.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A deterministic small pseudo-random generator (SplitMix64) used for fault decisions, so that a
/// seeded configuration reproduces the same sequence of injected faults.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (`p >= 1.0` is always true, `p <= 0.0` never, without consuming
    /// randomness in either case so that rate 0/1 faults are fully deterministic).
    pub fn chance(&mut self, p: f64) -> bool {
        if p >= 1.0 {
            true
        } else if p <= 0.0 || p.is_nan() {
            false
        } else {
            self.next_f64() < p
        }
    }

    /// A uniform integer in `[0, n)`; 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// The request id header every answer carries (`X-Request-Id`).
pub const REQUEST_ID: &str = "x-request-id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_documented_shapes() {
        let id = resource_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        let job = job_id();
        assert_eq!(job.len(), 32);
        assert!(job.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn rng_is_deterministic_and_extreme_rates_are_exact() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert!((0..100).all(|_| a.chance(1.0)));
        assert!((0..100).all(|_| !a.chance(0.0)));
        let hits = (0..10_000).filter(|_| a.chance(0.5)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }
}
