//! A bounded cache with a time-to-live per entry.
//!
//! Sharded mutexes keep contention low on the hot path; each shard holds at
//! most `capacity / shards` entries and, when full, first drops expired
//! entries and then the entries closest to expiry.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

#[derive(Debug)]
pub struct TtlCache<K, V> {
    shards: Vec<Mutex<HashMap<K, (V, Instant)>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<HashMap<K, (V, Instant)>> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let mut shard = self.shard(key).lock().ok()?;
        match shard.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                shard.remove(key);
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
        shard.insert(key, (value, now + ttl));
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
        shard.insert(key, (value.clone(), now + ttl));
        value
    }

    fn make_room(&self, shard: &mut HashMap<K, (V, Instant)>, key: &K, now: Instant) {
        if shard.len() >= self.per_shard && !shard.contains_key(key) {
            shard.retain(|_, (_, expires)| *expires > now);
            if shard.len() >= self.per_shard {
                let mut by_expiry: Vec<(K, Instant)> =
                    shard.iter().map(|(k, (_, e))| (k.clone(), *e)).collect();
                by_expiry.sort_by_key(|(_, e)| *e);
                let drop_count = (self.per_shard / 10).max(1);
                for (k, _) in by_expiry.into_iter().take(drop_count) {
                    shard.remove(&k);
                }
            }
        }
    }

    pub fn remove(&self, key: &K) {
        if let Ok(mut shard) = self.shard(key).lock() {
            shard.remove(key);
        }
    }

    pub fn remove_where(&self, mut predicate: impl FnMut(&K, &V) -> bool) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.retain(|k, (v, _)| !predicate(k, v));
            }
        }
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.clear();
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.lock().ok().map(|s| s.len()))
            .sum()
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
}
