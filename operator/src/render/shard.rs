//! Large output: files that would outgrow one object are split across several ConfigMaps.
//!
//! The API server refuses a ConfigMap whose data exceeds 1 MiB, and etcd any request over
//! 1.5 MiB. A stack with thousands of monitors renders a Prometheus configuration, rule files
//! and probe expectations of tens of megabytes, so each of them is cut into pieces (one per
//! monitor or per SLO service), and the pieces go into shard buckets by a stable hash of their
//! identity:
//!
//! - a monitor's change rewrites only its own shard, not the whole configuration;
//! - the bucket count is a power of two, the smallest whose fullest bucket fits [`SHARD_BUDGET`],
//!   so it changes (and with it the Prometheus pod template, which mounts every shard) only when
//!   the output doubles or halves, not with every monitor added;
//! - small stacks, below [`UNSHARDED_LIMIT`], keep the single-object layout byte for byte.
//!
//! This module holds the arithmetic; [`super::layout`] decides and builds the ConfigMaps.

/// Largest data one shard ConfigMap is filled with: half the API server's 1 MiB ConfigMap limit,
/// so metadata, the applied-hash annotation and a bucket that hashing filled unevenly all fit.
pub(crate) const SHARD_BUDGET: usize = 512 * 1024;
/// Below this many bytes of data a component keeps its single-ConfigMap layout.
pub(crate) const UNSHARDED_LIMIT: usize = 768 * 1024;
/// At most this many buckets (4 GiB of data at the budget): beyond, a bucket may exceed the
/// budget but the layout stays bounded.
pub(crate) const MAX_BUCKETS: usize = 8192;

/// One piece of a sharded file: the text of one monitor's (or one service's) entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Stable hash of the piece's identity (e.g. `namespace/name` of its monitor).
    pub hash: u64,
    /// Its text, ready to be concatenated with the other pieces of its bucket.
    pub text: String,
}

impl Piece {
    pub fn new(identity: &str, text: String) -> Self {
        Self { hash: stable_hash(identity), text }
    }
}

/// FNV-1a of the identity: stable across runs, platforms and versions (unlike `std`'s hasher).
pub(crate) fn stable_hash(identity: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in identity.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The bucket of a hash among `buckets` (a power of two).
pub(crate) fn bucket_of(hash: u64, buckets: usize) -> usize {
    // The high bits mix better than FNV's low ones.
    let mixed = hash ^ (hash >> 29) ^ (hash >> 47);
    usize::try_from(mixed % u64::try_from(buckets.max(1)).unwrap_or(1)).unwrap_or(0)
}

/// The smallest power-of-two bucket count whose fullest bucket holds at most `budget` bytes of
/// pieces (plus `overhead` per bucket).
pub(crate) fn bucket_count(pieces: &[&Piece], budget: usize, overhead: usize) -> usize {
    let total: usize = pieces.iter().map(|piece| piece.text.len()).sum();
    let mut buckets = total.div_ceil(budget.max(1)).next_power_of_two().max(1);
    while buckets < MAX_BUCKETS {
        let mut sizes = vec![overhead; buckets];
        for piece in pieces {
            sizes[bucket_of(piece.hash, buckets)] += piece.text.len();
        }
        if sizes.iter().all(|size| *size <= budget) {
            break;
        }
        buckets *= 2;
    }
    buckets.min(MAX_BUCKETS)
}

/// The pieces of each bucket, in their given order.
pub(crate) fn distribute<'p>(pieces: &[&'p Piece], buckets: usize) -> Vec<Vec<&'p Piece>> {
    let mut distributed: Vec<Vec<&Piece>> = vec![Vec::new(); buckets];
    for piece in pieces.iter().copied() {
        distributed[bucket_of(piece.hash, buckets)].push(piece);
    }
    distributed
}

/// Name of a shard's file: `<stem>-0007.<extension>`, fixed width so the files sort in order.
pub(crate) fn shard_file(stem: &str, bucket: usize, extension: &str) -> String {
    format!("{stem}-{bucket:04}.{extension}")
}

/// Name of a shard's ConfigMap: `<base>-<suffix>-0007`.
pub(crate) fn shard_object(base: &str, suffix: &str, bucket: usize) -> String {
    format!("{base}-{suffix}-{bucket:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(count: usize, size: usize) -> Vec<Piece> {
        (0..count).map(|index| Piece::new(&format!("ns/monitor-{index}"), "x".repeat(size))).collect()
    }

    #[test]
    fn bucket_counts_are_powers_of_two_that_fit_the_budget() {
        for (count, size) in [(1, 10), (100, 9_000), (10_000, 9_000), (3, 400_000)] {
            let owned = pieces(count, size);
            let pieces: Vec<&Piece> = owned.iter().collect();
            let buckets = bucket_count(&pieces, SHARD_BUDGET, 64);
            assert!(buckets.is_power_of_two(), "{buckets}");
            for bucket in distribute(&pieces, buckets) {
                assert!(bucket.iter().map(|piece| piece.text.len()).sum::<usize>() + 64 <= SHARD_BUDGET);
            }
        }
    }

    #[test]
    fn adding_a_piece_keeps_the_bucket_count_and_the_other_pieces_in_place() {
        let mut many = pieces(1_000, 9_000);
        let buckets = bucket_count(&many.iter().collect::<Vec<_>>(), SHARD_BUDGET, 0);
        let before: Vec<usize> = many.iter().map(|piece| bucket_of(piece.hash, buckets)).collect();
        many.push(Piece::new("ns/new", "x".repeat(9_000)));
        assert_eq!(bucket_count(&many.iter().collect::<Vec<_>>(), SHARD_BUDGET, 0), buckets);
        let after: Vec<usize> = many.iter().map(|piece| bucket_of(piece.hash, buckets)).collect();
        assert_eq!(&after[..before.len()], &before[..]);
    }

    #[test]
    fn the_hash_is_stable() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
