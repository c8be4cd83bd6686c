//! The pure part of a 双随机 draw: a seeded generator and the selection it drives.
//!
//! Nothing here reads the database or the clock, so the same seed and frame give the
//! same selection on any machine, today or in ten years — which is what lets anyone
//! recompute a recorded draw.
//!
//! **Generator** ([`Stream`]): a SHA-256 counter construction. Block `i` is
//! `SHA-256("gridwatch-draw-rng-v1" ‖ seed ‖ i as 8 big-endian bytes)`; each block gives
//! four 64-bit big-endian words, used in order. A number below `n` is drawn by rejection
//! (words at or above the largest multiple of `n` are skipped), so it is exactly uniform.
//!
//! **Selection** ([`select`]):
//! 1. candidate sites and inspectors are ordered by id (never database order);
//! 2. sites not yet drawn in the period are shuffled (Fisher–Yates, `i` from the last
//!    index down to 1, `j = below(i + 1)`, swap) and the first `count` taken; if fewer
//!    than `count` are fresh, the pool is exhausted: the sites drawn before are shuffled
//!    the same way and the rest taken from them;
//! 3. the inspector pool is shuffled into a queue; for each drawn site in order, the
//!    first `per_site` inspectors of the queue whose home grid is not the site's grid
//!    (回避) form its team, and move to the back of the queue (so work spreads evenly).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A site or an inspector in the frame: its id and its (home) village grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// `supervised_site.id` or `app_user.id`.
    pub id: i64,
    /// The site's grid, or the inspector's home grid (`app_user.region_id`).
    pub region_id: i64,
}

/// What a draw drew from, as it stood at the moment of the draw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    /// The candidate sites, by id.
    pub sites: Vec<Candidate>,
    /// Candidate sites already drawn in the same period, by id.
    pub drawn_before: Vec<i64>,
    /// The inspector pool, by id.
    pub inspectors: Vec<Candidate>,
}

impl Frame {
    /// The frame in canonical order: everything sorted by id, without duplicates.
    pub fn normalised(mut self) -> Self {
        self.sites.sort();
        self.sites.dedup_by_key(|c| c.id);
        self.drawn_before.sort_unstable();
        self.drawn_before.dedup();
        self.inspectors.sort();
        self.inspectors.dedup_by_key(|c| c.id);
        self
    }
}

/// One drawn site and its team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Picked {
    /// The site.
    pub site_id: i64,
    /// The inspectors drawn for it; the first is the task's assignee.
    pub inspector_ids: Vec<i64>,
}

/// The outcome of a draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// The drawn sites, in draw order.
    pub sites: Vec<Picked>,
    /// Fewer candidates than `count` were fresh in the period, so some were drawn again.
    pub pool_exhausted: bool,
}

/// Why a frame cannot give a draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// No candidate site.
    NoSites,
    /// More sites asked for than there are candidates.
    TooMany {
        /// Asked for.
        count: usize,
        /// Candidates.
        available: usize,
    },
    /// Fewer than `per_site` inspectors of the pool live outside this site's grid.
    PoolTooSmall {
        /// The site that cannot be staffed.
        site_id: i64,
        /// Inspectors of the pool who may inspect it.
        eligible: usize,
    },
}

/// The seeded generator (see the module documentation).
#[derive(Debug, Clone)]
pub struct Stream {
    seed: [u8; 32],
    counter: u64,
    words: [u64; 4],
    next: usize,
}

impl Stream {
    /// A generator for `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            seed,
            counter: 0,
            words: [0; 4],
            next: 4,
        }
    }

    fn refill(&mut self) {
        let mut h = Sha256::new();
        h.update(b"gridwatch-draw-rng-v1");
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        let block = h.finalize();
        for (i, w) in self.words.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&block[i * 8..i * 8 + 8]);
            *w = u64::from_be_bytes(b);
        }
        self.counter += 1;
        self.next = 0;
    }

    /// The next 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        if self.next >= 4 {
            self.refill();
        }
        let w = self.words[self.next];
        self.next += 1;
        w
    }

    /// A uniform number in `0..n` (`0` when `n` is 0 or 1).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let span = 1u128 << 64;
        let limit = span - span % u128::from(n);
        loop {
            let x = self.next_u64();
            if u128::from(x) < limit {
                return x % n;
            }
        }
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }
}

/// Draws `count` sites and `per_site` inspectors for each from `frame` with `seed` (see
/// the module documentation). Every candidate site must be staffable: at least
/// `per_site` inspectors of the pool live outside its grid.
pub fn select(
    seed: [u8; 32],
    frame: &Frame,
    count: usize,
    per_site: usize,
) -> Result<Selection, SelectError> {
    let frame = frame.clone().normalised();
    if frame.sites.is_empty() {
        return Err(SelectError::NoSites);
    }
    if count == 0 || count > frame.sites.len() {
        return Err(SelectError::TooMany {
            count,
            available: frame.sites.len(),
        });
    }
    for s in &frame.sites {
        let eligible = frame
            .inspectors
            .iter()
            .filter(|i| i.region_id != s.region_id)
            .count();
        if eligible < per_site {
            return Err(SelectError::PoolTooSmall {
                site_id: s.id,
                eligible,
            });
        }
    }
    let before: BTreeSet<i64> = frame.drawn_before.iter().copied().collect();
    let (mut fresh, mut stale): (Vec<Candidate>, Vec<Candidate>) =
        frame.sites.iter().partition(|s| !before.contains(&s.id));
    let mut rng = Stream::new(seed);
    rng.shuffle(&mut fresh);
    let mut chosen: Vec<Candidate> = fresh.into_iter().take(count).collect();
    let pool_exhausted = chosen.len() < count;
    if pool_exhausted {
        rng.shuffle(&mut stale);
        let rest = count - chosen.len();
        chosen.extend(stale.into_iter().take(rest));
    }
    let mut queue = frame.inspectors.clone();
    rng.shuffle(&mut queue);
    let mut sites = Vec::with_capacity(chosen.len());
    for site in chosen {
        let at: Vec<usize> = queue
            .iter()
            .enumerate()
            .filter(|(_, i)| i.region_id != site.region_id)
            .take(per_site)
            .map(|(n, _)| n)
            .collect();
        // Checked above for every candidate; kept as an error rather than a panic.
        if at.len() < per_site {
            return Err(SelectError::PoolTooSmall {
                site_id: site.id,
                eligible: at.len(),
            });
        }
        let team: Vec<Candidate> = at.iter().map(|&n| queue[n]).collect();
        for &n in at.iter().rev() {
            queue.remove(n);
        }
        queue.extend(team.iter().copied());
        sites.push(Picked {
            site_id: site.id,
            inspector_ids: team.iter().map(|c| c.id).collect(),
        });
    }
    Ok(Selection {
        sites,
        pool_exhausted,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn seed_of(n: u64) -> [u8; 32] {
        Sha256::digest(n.to_be_bytes()).into()
    }

    /// `sites` sites spread over `grids` grids, `inspectors` inspectors likewise.
    fn frame(sites: i64, inspectors: i64, grids: i64) -> Frame {
        Frame {
            sites: (1..=sites)
                .map(|id| Candidate {
                    id,
                    region_id: 100 + id % grids,
                })
                .collect(),
            drawn_before: vec![],
            inspectors: (1..=inspectors)
                .map(|id| Candidate {
                    id: 1000 + id,
                    region_id: 100 + id % grids,
                })
                .collect(),
        }
    }

    #[test]
    fn the_generator_is_pinned() {
        // The construction is part of the record: changing it would break every
        // recorded draw's verification. These words pin it.
        let mut s = Stream::new([0u8; 32]);
        let first = s.next_u64();
        let mut h = Sha256::new();
        h.update(b"gridwatch-draw-rng-v1");
        h.update([0u8; 32]);
        h.update(0u64.to_be_bytes());
        let block = h.finalize();
        assert_eq!(
            first,
            u64::from_be_bytes(block[..8].try_into().unwrap()),
            "word 0 of block 0"
        );
        for _ in 0..3 {
            s.next_u64();
        }
        let mut h = Sha256::new();
        h.update(b"gridwatch-draw-rng-v1");
        h.update([0u8; 32]);
        h.update(1u64.to_be_bytes());
        let block = h.finalize();
        assert_eq!(
            s.next_u64(),
            u64::from_be_bytes(block[..8].try_into().unwrap()),
            "word 0 of block 1"
        );
    }

    #[test]
    fn below_is_in_range_and_uses_every_value() {
        let mut s = Stream::new(seed_of(7));
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let x = s.below(7);
            seen[usize::try_from(x).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800 && n < 1_200), "{seen:?}");
        assert_eq!(s.below(1), 0);
        assert_eq!(s.below(0), 0);
    }

    #[test]
    fn frame_order_does_not_matter() {
        let f = frame(20, 8, 4);
        let mut g = f.clone();
        g.sites.reverse();
        g.inspectors.reverse();
        assert_eq!(
            select(seed_of(1), &f, 5, 2).unwrap(),
            select(seed_of(1), &g, 5, 2).unwrap()
        );
    }

    #[test]
    fn different_seeds_give_different_draws() {
        let f = frame(50, 10, 5);
        let a = select(seed_of(1), &f, 10, 2).unwrap();
        let b = select(seed_of(2), &f, 10, 2).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            select(seed_of(1), &Frame::default(), 1, 2),
            Err(SelectError::NoSites)
        );
        assert_eq!(
            select(seed_of(1), &frame(3, 8, 4), 4, 2),
            Err(SelectError::TooMany {
                count: 4,
                available: 3
            })
        );
        // Two inspectors, one of them at home in site 1's grid.
        let f = Frame {
            sites: vec![Candidate {
                id: 1,
                region_id: 7,
            }],
            drawn_before: vec![],
            inspectors: vec![
                Candidate {
                    id: 10,
                    region_id: 7,
                },
                Candidate {
                    id: 11,
                    region_id: 8,
                },
            ],
        };
        assert_eq!(
            select(seed_of(1), &f, 1, 2),
            Err(SelectError::PoolTooSmall {
                site_id: 1,
                eligible: 1
            })
        );
    }

    #[test]
    fn no_site_twice_in_a_period_until_exhausted() {
        let mut f = frame(10, 6, 3);
        f.drawn_before = vec![1, 2, 3, 4, 5, 6];
        let s = select(seed_of(3), &f, 4, 2).unwrap();
        assert!(!s.pool_exhausted);
        assert!(s.sites.iter().all(|p| p.site_id > 6), "{s:?}");
        let s = select(seed_of(3), &f, 6, 2).unwrap();
        assert!(s.pool_exhausted);
        let ids: BTreeSet<i64> = s.sites.iter().map(|p| p.site_id).collect();
        assert_eq!(ids.len(), 6, "no site twice in one draw");
        assert!((7..=10).all(|id| ids.contains(&id)), "fresh ones first");
    }

    #[test]
    fn not_skewed_toward_low_ids() {
        // 20 sites, 1 drawn per seed, 2,000 seeds: every site expects 100 draws.
        // Chi-square with 19 degrees of freedom: the 99.9th percentile is 43.8.
        let f = frame(20, 6, 3);
        let mut hits: HashMap<i64, u32> = HashMap::new();
        let mut team_hits: HashMap<i64, u32> = HashMap::new();
        for n in 0..2_000 {
            let s = select(seed_of(n), &f, 1, 2).unwrap();
            *hits.entry(s.sites[0].site_id).or_default() += 1;
            for i in &s.sites[0].inspector_ids {
                *team_hits.entry(*i).or_default() += 1;
            }
        }
        let chi2: f64 = (1..=20)
            .map(|id| {
                let o = f64::from(hits.get(&id).copied().unwrap_or(0));
                (o - 100.0).powi(2) / 100.0
            })
            .sum();
        assert!(chi2 < 43.8, "chi-square {chi2}: {hits:?}");
        let (first, last) = (hits[&1], hits[&20]);
        assert!(first.abs_diff(last) < 60, "first {first}, last {last}");
        // Inspectors too: 6 inspectors, 4,000 places; none is drawn far more often.
        assert_eq!(team_hits.len(), 6, "{team_hits:?}");
        assert!(
            team_hits.values().all(|&n| n > 450 && n < 900),
            "{team_hits:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn rules_always_hold(
            seed in any::<[u8; 32]>(),
            sites in 1i64..40,
            inspectors in 3i64..20,
            grids in 2i64..6,
            per_site in 2usize..4,
            count_pick in 0usize..1000,
            before_mask in any::<u64>(),
        ) {
            let mut f = frame(sites, inspectors, grids);
            f.drawn_before = (1..=sites).filter(|id| before_mask >> (id % 64) & 1 == 1).collect();
            let count = 1 + count_pick % usize::try_from(sites).unwrap();
            match select(seed, &f, count, per_site) {
                Ok(s) => {
                    // Reproducible.
                    prop_assert_eq!(&s, &select(seed, &f, count, per_site).unwrap());
                    prop_assert_eq!(s.sites.len(), count);
                    let ids: BTreeSet<i64> = s.sites.iter().map(|p| p.site_id).collect();
                    prop_assert_eq!(ids.len(), count, "a site twice in one draw");
                    let fresh = f.sites.iter().filter(|c| !f.drawn_before.contains(&c.id)).count();
                    prop_assert_eq!(s.pool_exhausted, fresh < count);
                    let repeated = s.sites.iter().filter(|p| f.drawn_before.contains(&p.site_id)).count();
                    prop_assert_eq!(repeated, count.saturating_sub(fresh), "repeats only when exhausted");
                    let region = |id: i64| f.sites.iter().find(|c| c.id == id).unwrap().region_id;
                    let home = |id: i64| f.inspectors.iter().find(|c| c.id == id).unwrap().region_id;
                    for p in &s.sites {
                        prop_assert_eq!(p.inspector_ids.len(), per_site, "team size");
                        let team: BTreeSet<i64> = p.inspector_ids.iter().copied().collect();
                        prop_assert_eq!(team.len(), per_site, "an inspector twice on one site");
                        for i in &p.inspector_ids {
                            prop_assert_ne!(home(*i), region(p.site_id), "回避");
                        }
                    }
                }
                Err(SelectError::PoolTooSmall { site_id, eligible }) => {
                    let r = f.sites.iter().find(|c| c.id == site_id).unwrap().region_id;
                    let n = f.inspectors.iter().filter(|i| i.region_id != r).count();
                    prop_assert_eq!(n, eligible);
                    prop_assert!(n < per_site);
                }
                Err(e) => prop_assert!(false, "unexpected {:?}", e),
            }
        }
    }
}
