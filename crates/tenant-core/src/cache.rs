//! A bounded cache with a time-to-live per entry.
//!
//! Sharded mutexes keep contention low on the hot path. The bound is on the
//! whole cache, not on each shard: keys hash unevenly, and a cache of N
//! entries sized for N keys must hold them all. When an insert finds the
//! cache full, its shard drops its expired entries and then the tenth of
//! its entries closest to expiry, found in linear time (no sort, no copy of
//! the keys), so the cost of making room is spread over the inserts the
//! room is for.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

/// The share of a full shard dropped at once when room is needed.
const EVICT_DIVISOR: usize = 10;

type Shard<K, V> = HashMap<K, (V, Instant)>;

#[derive(Debug)]
pub struct TtlCache<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
    capacity: usize,
    /// Entries over all shards, kept under each shard's lock as it changes.
    len: AtomicUsize,
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            capacity: capacity.max(1),
            len: AtomicUsize::new(0),
            hasher: RandomState::new(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<Shard<K, V>> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// Runs `change` on a locked shard and accounts for the entries it
    /// added or removed.
    fn counted<R>(&self, shard: &mut Shard<K, V>, change: impl FnOnce(&mut Shard<K, V>) -> R) -> R {
        let before = shard.len();
        let result = change(shard);
        let after = shard.len();
        if after > before {
            self.len.fetch_add(after - before, Ordering::Relaxed);
        } else if before > after {
            self.len.fetch_sub(before - after, Ordering::Relaxed);
        }
        result
    }

    /// The unexpired value under `key`, looked up by any borrowed form of
    /// the key (which hashes as the key does).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut shard = self.shard(key).lock().ok()?;
        match shard.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                self.counted(&mut shard, |shard| shard.remove(key));
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        let Ok(mut shard) = self.shard(&key).lock() else {
            return;
        };
        let now = Instant::now();
        self.make_room(&mut shard, &key, now);
        self.counted(&mut shard, |shard| shard.insert(key, (value, now + ttl)));
    }

    /// The unexpired value under `key`, or `make()` stored there for
    /// `ttl` and returned, in one step under the shard's lock: callers
    /// that race for a missing key all get the same value (a shared cell
    /// one of them fills, say).
    pub fn get_or_insert_with(&self, key: K, ttl: Duration, make: impl FnOnce() -> V) -> V {
        let Ok(mut shard) = self.shard(&key).lock() else {
            return make();
        };
        let now = Instant::now();
        if let Some((value, expires)) = shard.get(&key)
            && *expires > now
        {
            return value.clone();
        }
        let value = make();
        self.make_room(&mut shard, &key, now);
        self.counted(&mut shard, |shard| {
            shard.insert(key, (value.clone(), now + ttl))
        });
        value
    }

    /// When the cache is full and `key` is new: the shard's expired
    /// entries go, then, if it is still full, the tenth of the shard's
    /// entries closest to expiry (ties at the cut go too).
    fn make_room(&self, shard: &mut Shard<K, V>, key: &K, now: Instant) {
        if self.len.load(Ordering::Relaxed) < self.capacity || shard.contains_key(key) {
            return;
        }
        self.counted(shard, |shard| {
            shard.retain(|_, (_, expires)| *expires > now);
        });
        if self.len.load(Ordering::Relaxed) < self.capacity || shard.is_empty() {
            return;
        }
        let mut expiries: Vec<Instant> = shard.values().map(|(_, expires)| *expires).collect();
        let cut = (expiries.len() / EVICT_DIVISOR).min(expiries.len() - 1);
        let (_, &mut last_dropped, _) = expiries.select_nth_unstable(cut);
        self.counted(shard, |shard| {
            shard.retain(|_, (_, expires)| *expires > last_dropped);
        });
    }

    pub fn remove(&self, key: &K) {
        if let Ok(mut shard) = self.shard(key).lock() {
            self.counted(&mut shard, |shard| shard.remove(key));
        }
    }

    pub fn remove_where(&self, mut predicate: impl FnMut(&K, &V) -> bool) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                self.counted(&mut shard, |shard| {
                    shard.retain(|k, (v, _)| !predicate(k, v));
                });
            }
        }
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                self.counted(&mut shard, HashMap::clear);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_and_the_cache_stays_within_its_capacity() {
        let cache = TtlCache::new(160);
        cache.insert("short", 1, Duration::from_millis(1));
        cache.insert("long", 2, Duration::from_secs(60));
        // The scenario: the short entry's time to live passes.
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(cache.get(&"short"), None);
        assert_eq!(cache.get(&"long"), Some(2));
        let many = TtlCache::new(160);
        for i in 0..10_000 {
            many.insert(i, i, Duration::from_secs(60));
        }
        assert!(many.len() <= 160, "{}", many.len());
        many.remove_where(|_, v| *v % 2 == 0);
        assert!(many.len() <= 160);
    }

    #[test]
    fn get_or_insert_with_makes_a_value_once_until_it_expires() {
        let cache = TtlCache::new(16);
        let mut made = 0;
        for _ in 0..3 {
            let value = cache.get_or_insert_with("k", Duration::from_secs(60), || {
                made += 1;
                made
            });
            assert_eq!(value, 1);
        }
        assert_eq!(made, 1);
        let fresh = cache.get_or_insert_with("gone", Duration::ZERO, || 7);
        assert_eq!(fresh, 7);
        assert_eq!(cache.get_or_insert_with("gone", Duration::ZERO, || 8), 8);
    }

    #[test]
    fn a_cache_holds_as_many_keys_as_its_capacity_however_they_hash() {
        // 16 shards of 10,000 / 16 = 625 each would overflow some shards
        // (keys hash unevenly) and drop keys the cache has room for.
        let cache = TtlCache::new(10_000);
        for key in 0..10_000 {
            cache.insert(key, key, Duration::from_secs(60));
        }
        assert_eq!(cache.len(), 10_000);
        let missing = (0..10_000).filter(|k| cache.get(k).is_none()).count();
        assert_eq!(missing, 0, "keys dropped below capacity");
        cache.remove(&0);
        cache.remove_where(|k, _| *k < 100);
        assert_eq!(cache.len(), 9_900);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_drops_the_entries_closest_to_expiry_first() {
        let cache = TtlCache::new(10_000);
        // Old keys expire one second apart, the lowest first; new keys
        // expire after all of them.
        for key in 0..10_000_u64 {
            cache.insert(key, key, Duration::from_secs(1_000 + key));
        }
        for key in 10_000..20_000_u64 {
            cache.insert(key, key, Duration::from_secs(100_000));
        }
        assert!(cache.len() <= 10_000 + SHARDS, "{}", cache.len());
        // Each shard makes its own room, so the order holds within a
        // shard: every old key it dropped expired before every old key it
        // kept, and it dropped a new key only once no old key was left.
        for shard in &cache.shards {
            let of_shard = |key: &u64| std::ptr::eq(cache.shard(key), shard);
            let (kept_old, dropped_old): (Vec<u64>, Vec<u64>) = (0..10_000)
                .filter(of_shard)
                .partition(|k| cache.get(k).is_some());
            let dropped_new = (10_000..20_000)
                .filter(of_shard)
                .any(|k| cache.get(&k).is_none());
            if let (Some(kept), Some(dropped)) = (kept_old.iter().min(), dropped_old.iter().max()) {
                assert!(dropped < kept, "dropped {dropped} before {kept}");
            }
            assert!(
                !dropped_new || kept_old.is_empty(),
                "a new key went before an old one"
            );
        }
    }
}
