//! Assignment on the device: the arm is a pure function of the experiment's (public) salt and
//! the device's (secret, never sent) random id.
//!
//! `bucket(tag, key, id) = ⌊SHA-256("vitrine-exp\0" ‖ tag ‖ "\0" ‖ key ‖ "\0" ‖ id)[0..8] · 10⁴ / 2⁶⁴⌋`
//! (the first 8 bytes big-endian): a uniform bucket in `[0, 10⁴)` (bias below 10⁻¹⁵). A device is
//! in an experiment's namespace range by its bucket under the namespace's name (tag `ns`), then in
//! an arm by its bucket under the experiment's salt (tag `arm`) against the arms' cumulative
//! allocation ranges; a bucket past the last range is not enrolled. Experiments of one namespace
//! take disjoint ranges of the same buckets, so a device is in at most one of them; experiments in
//! different namespaces (or none) are randomized independently through their salts.
//!
//! The arm is the device's own coin: it is independent of the shopper's history, which is why the
//! page may attach it to an exposure ping and one order (layer 0) without any noise.

use sha2::{Digest, Sha256};

use crate::error::PrivacyError;
use crate::experiment::error::ExperimentError;
use crate::experiment::manifest::{Design, ValidExperiment, BUCKETS, INTERLEAVED};
use crate::privacy::rng::RandomSource;

/// A device's random id: 128 bits from the CSPRNG as 32 lowercase hex digits. Created once with
/// consent and kept on the device (or per page session without consent); never sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    /// A fresh id (the browser passes its CSPRNG, `OsRandom`).
    pub fn generate<R: RandomSource + ?Sized>(rng: &mut R) -> Result<Self, PrivacyError> {
        Ok(Self(random_hex128(rng)?))
    }

    /// Reads a stored id (exactly 32 lowercase hex digits).
    pub fn parse(s: &str) -> Result<Self, ExperimentError> {
        if is_hex128(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(ExperimentError::new(
                "device_id",
                "",
                "a device id is 32 lowercase hex digits (a stored value was altered: create a new one)",
            ))
        }
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 128 random bits as 32 lowercase hex digits.
pub fn random_hex128<R: RandomSource + ?Sized>(rng: &mut R) -> Result<String, PrivacyError> {
    let (a, b) = (rng.next_u64()?, rng.next_u64()?);
    Ok(format!("{a:016x}{b:016x}"))
}

/// Whether `s` is 32 lowercase hex digits.
pub fn is_hex128(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The device's bucket in `[0, 10⁴)` for a tag (`ns` or `arm`) and a key (namespace name or salt).
pub fn bucket(tag: &str, key: &str, id: &DeviceId) -> u32 {
    let mut h = Sha256::new();
    for part in [b"vitrine-exp".as_slice(), tag.as_bytes(), key.as_bytes()] {
        h.update(part);
        h.update([0u8]);
    }
    h.update(id.0.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let x = u64::from_be_bytes(first);
    ((u128::from(x) * u128::from(BUCKETS)) >> 64) as u32
}

/// Where a device stands in one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrollment {
    /// In the arm at this index of [`ValidExperiment::arms`].
    Arm(usize),
    /// In an interleaving experiment: its shelves interleave both arms.
    Interleaved,
    /// Not in the experiment (and nothing is recorded or sent for it).
    NotEnrolled(NotEnrolled),
}

/// Why a device is not in an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotEnrolled {
    /// The page reports Global Privacy Control: the shopper is never enrolled.
    GlobalPrivacyControl,
    /// Before `start` or from `end` on.
    OutsideDates,
    /// The device's namespace bucket is outside the experiment's range.
    OtherNamespaceRange,
    /// The device's arm bucket is past the last arm (allocations add up to less than 1).
    Unallocated,
}

/// The device's enrollment in `exp` at `now_ms` (ms since the Unix epoch). Under GPC (`gpc`),
/// never enrolled. Without stored consent the page passes a per-page-session id instead of the
/// stored one (the unit is then the page session).
pub fn assign(exp: &ValidExperiment, id: &DeviceId, now_ms: f64, gpc: bool) -> Enrollment {
    if gpc {
        return Enrollment::NotEnrolled(NotEnrolled::GlobalPrivacyControl);
    }
    if !(now_ms >= exp.start_ms && now_ms < exp.end_ms) {
        return Enrollment::NotEnrolled(NotEnrolled::OutsideDates);
    }
    arm_of(exp, id)
}

/// The enrollment by the hash alone (no dates, no GPC): what the simulator and the tests call.
pub fn arm_of(exp: &ValidExperiment, id: &DeviceId) -> Enrollment {
    if let Some((name, (lo, hi))) = &exp.namespace {
        let b = bucket("ns", name, id);
        if b < *lo || b >= *hi {
            return Enrollment::NotEnrolled(NotEnrolled::OtherNamespaceRange);
        }
    }
    match exp.design {
        Design::Interleaving => Enrollment::Interleaved,
        Design::AB => {
            let b = bucket("arm", &exp.salt, id);
            exp.arms
                .iter()
                .position(|a| b >= a.buckets.0 && b < a.buckets.1)
                .map_or(
                    Enrollment::NotEnrolled(NotEnrolled::Unallocated),
                    Enrollment::Arm,
                )
        }
    }
}

/// The arm label of an enrollment (`None` when not enrolled).
pub fn arm_label(exp: &ValidExperiment, enrollment: &Enrollment) -> Option<String> {
    match enrollment {
        Enrollment::Arm(i) => exp.arms.get(*i).map(|a| a.name.clone()),
        Enrollment::Interleaved => Some(INTERLEAVED.to_string()),
        Enrollment::NotEnrolled(_) => None,
    }
}

/// The layer-0 label the page attaches to an exposure ping and to at most one order:
/// `"<experiment id>:<arm>"`.
pub fn experiment_label(exp: &ValidExperiment, enrollment: &Enrollment) -> Option<String> {
    arm_label(exp, enrollment).map(|arm| format!("{}:{arm}", exp.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::manifest::ValidManifest;
    use crate::privacy::rng::InsecureSeededRngForTestsOnly as SeededRng;

    fn manifest(extra: &str, allocations: (f64, f64)) -> ValidManifest {
        ValidManifest::from_json(&format!(
            r#"{{"format":"vitrine-experiments","version":1,"experiments":[{{
              "id":"e1","salt":"0123456789abcdef","start":"2026-01-01","end":"2026-02-01"{extra},
              "arms":[{{"name":"a","allocation":{}}},{{"name":"b","allocation":{}}}],
              "metrics":[{{"name":"conversion"}}]}}]}}"#,
            allocations.0, allocations.1
        ))
        .unwrap()
    }

    #[test]
    fn arms_follow_the_allocation_and_are_stable() {
        let m = manifest("", (0.3, 0.7));
        let e = &m.experiments()[0];
        let mut rng = SeededRng::from_seed(1);
        let n = 100_000;
        let mut in_a = 0;
        for _ in 0..n {
            let id = DeviceId::generate(&mut rng).unwrap();
            let first = arm_of(e, &id);
            assert_eq!(first, arm_of(e, &id), "pure function of (salt, id)");
            if first == Enrollment::Arm(0) {
                in_a += 1;
            } else {
                assert_eq!(first, Enrollment::Arm(1));
            }
        }
        let share = in_a as f64 / n as f64;
        let sd = (0.3f64 * 0.7 / n as f64).sqrt();
        assert!((share - 0.3).abs() < 4.0 * sd, "{share}");
    }

    #[test]
    fn dates_gpc_and_unallocated_traffic() {
        let m = manifest("", (0.25, 0.25));
        let e = &m.experiments()[0];
        let id = DeviceId::parse("00112233445566778899aabbccddeeff").unwrap();
        let jan15 = e.start_ms + 14.0 * 86_400_000.0;
        assert_eq!(
            assign(e, &id, jan15, true),
            Enrollment::NotEnrolled(NotEnrolled::GlobalPrivacyControl)
        );
        assert_eq!(
            assign(e, &id, e.end_ms, false),
            Enrollment::NotEnrolled(NotEnrolled::OutsideDates)
        );
        assert_eq!(
            assign(e, &id, e.start_ms - 1.0, false),
            Enrollment::NotEnrolled(NotEnrolled::OutsideDates)
        );
        let mut rng = SeededRng::from_seed(2);
        let out = (0..20_000)
            .filter(|_| {
                let id = DeviceId::generate(&mut rng).unwrap();
                assign(e, &id, jan15, false) == Enrollment::NotEnrolled(NotEnrolled::Unallocated)
            })
            .count();
        assert!((9_500..10_500).contains(&out), "{out}");
    }

    #[test]
    fn namespaces_make_tests_mutually_exclusive() {
        let m = ValidManifest::from_json(
            r#"{"format":"vitrine-experiments","version":1,"experiments":[
              {"id":"x","salt":"0123456789abcdef","start":"2026-01-01","end":"2026-02-01",
               "namespace":{"name":"home","range":[0,0.5]},
               "arms":[{"name":"a","allocation":0.5},{"name":"b","allocation":0.5}],"metrics":[{"name":"conversion"}]},
              {"id":"y","salt":"fedcba9876543210","start":"2026-01-01","end":"2026-02-01",
               "namespace":{"name":"home","range":[0.5,1]},
               "arms":[{"name":"a","allocation":0.5},{"name":"b","allocation":0.5}],"metrics":[{"name":"conversion"}]}]}"#,
        )
        .unwrap();
        let (x, y) = (&m.experiments()[0], &m.experiments()[1]);
        let mut rng = SeededRng::from_seed(3);
        let (mut nx, mut ny) = (0, 0);
        for _ in 0..10_000 {
            let id = DeviceId::generate(&mut rng).unwrap();
            let ix = !matches!(arm_of(x, &id), Enrollment::NotEnrolled(_));
            let iy = !matches!(arm_of(y, &id), Enrollment::NotEnrolled(_));
            assert!(!(ix && iy), "a device in both experiments of a namespace");
            assert!(ix || iy, "the two ranges cover the namespace");
            nx += usize::from(ix);
            ny += usize::from(iy);
        }
        assert!(
            (4_700..5_300).contains(&nx) && nx + ny == 10_000,
            "{nx} {ny}"
        );
    }

    #[test]
    fn ids_and_labels() {
        assert!(DeviceId::parse("00112233445566778899AABBCCDDEEFF").is_err());
        assert!(DeviceId::parse("0011").is_err());
        let mut rng = SeededRng::from_seed(4);
        let id = DeviceId::generate(&mut rng).unwrap();
        assert!(is_hex128(id.as_str()));
        let m = manifest("", (0.5, 0.5));
        let e = &m.experiments()[0];
        let enrollment = arm_of(e, &id);
        let label = experiment_label(e, &enrollment).unwrap();
        assert!(label == "e1:a" || label == "e1:b", "{label}");
        assert_eq!(
            experiment_label(e, &Enrollment::NotEnrolled(NotEnrolled::Unallocated)),
            None
        );
    }
}
