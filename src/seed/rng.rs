//! A small seeded generator (SplitMix64), written out so that a seed gives the same data
//! whatever version of the `rand` crate is in use. Integer arithmetic only.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut rng = Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B);
        rng.next_u64();
        rng
    }

    /// An independent stream for one purpose (`label`), so that the draws of one part of
    /// the dataset do not shift when another part changes.
    pub fn stream(seed: u64, label: &str) -> Rng {
        let mut hash = 0xCBF2_9CE4_8422_2325u64;
        for byte in label.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
        }
        Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hash)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// True `per_mille` times out of a thousand.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given weights (at least one must be positive).
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut draw = self.below(total);
        for (index, &weight) in weights.iter().enumerate() {
            if draw < weight {
                return index;
            }
            draw -= weight;
        }
        weights.len() - 1
    }

    /// One of `items`, each with its weight.
    pub fn weighted_pick<'a, T>(&mut self, items: &'a [(T, u64)]) -> &'a T {
        let weights: Vec<u64> = items.iter().map(|(_, w)| *w).collect();
        &items[self.weighted(&weights)].0
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index as u64 + 1) as usize;
            items.swap(index, other);
        }
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let value = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&value[..chunk.len()]);
        }
    }
}

/// Weighted sampling over a growing set of items (a Fenwick tree of weights): items are
/// appended with their weight, and each draw costs O(log n).
#[derive(Debug, Default)]
pub struct WeightedSet {
    tree: Vec<u64>,
    total: u64,
}

impl WeightedSet {
    pub fn new() -> WeightedSet {
        WeightedSet { tree: vec![0], total: 0 }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Appends an item (its index is the previous `len()`).
    pub fn push(&mut self, weight: u64) {
        let index = self.tree.len();
        // A Fenwick node covers (index - lowbit(index), index]: sum the children already there.
        let lowbit = index & index.wrapping_neg();
        let mut node_sum = weight;
        let mut child = index - 1;
        let stop = index - lowbit;
        while child > stop {
            node_sum += self.tree[child];
            child -= child & child.wrapping_neg();
        }
        self.tree.push(node_sum);
        self.total += weight;
    }

    /// An index drawn with probability proportional to its weight; None when all are 0.
    pub fn draw(&self, rng: &mut Rng) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let mut target = rng.below(self.total);
        let mut position = 0usize;
        let mut step = (self.tree.len() - 1).next_power_of_two();
        while step > 0 {
            let next = position + step;
            if next < self.tree.len() && self.tree[next] <= target {
                target -= self.tree[next];
                position = next;
            }
            step >>= 1;
        }
        Some(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..5).map(|_| Rng::stream(42, "orders").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(42, "orders").next_u64(), Rng::stream(42, "customers").next_u64());
        assert_ne!(Rng::stream(42, "orders").next_u64(), Rng::stream(43, "orders").next_u64());
    }

    #[test]
    fn weighted_set_draws_in_proportion() {
        let mut set = WeightedSet::new();
        for weight in [0u64, 1, 0, 3, 6] {
            set.push(weight);
        }
        let mut rng = Rng::new(7);
        let mut counts = [0u32; 5];
        for _ in 0..10_000 {
            counts[set.draw(&mut rng).unwrap()] += 1;
        }
        assert_eq!((counts[0], counts[2]), (0, 0), "weight 0 is never drawn");
        assert!((800..1200).contains(&counts[1]), "{counts:?}");
        assert!((2700..3300).contains(&counts[3]), "{counts:?}");
        assert!((5600..6400).contains(&counts[4]), "{counts:?}");
        assert_eq!(WeightedSet::new().draw(&mut rng), None);
    }

    #[test]
    fn weighted_set_matches_a_linear_scan() {
        let mut rng = Rng::new(1);
        let mut set = WeightedSet::new();
        let mut weights = Vec::new();
        for n in 0..300u64 {
            let weight = (n * 7919) % 13;
            set.push(weight);
            weights.push(weight);
            let mut a = rng.clone();
            let mut b = rng.clone();
            let drawn = set.draw(&mut a);
            let expected = (weights.iter().sum::<u64>() > 0).then(|| b.weighted(&weights));
            assert_eq!(drawn, expected, "after {} items", n + 1);
            rng.next_u64();
        }
    }
}
