//! A small byte-weighted cache with FIFO eviction, shared between threads.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

struct Inner<K, V: ?Sized> {
    map: HashMap<K, (Arc<V>, usize)>,
    order: VecDeque<K>,
    weight: usize,
}

/// Values are `Arc`s; eviction only drops the cache's reference.
pub struct WeightedCache<K, V: ?Sized> {
    budget: usize,
    inner: Mutex<Inner<K, V>>,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl<K: Hash + Eq + Clone, V: ?Sized> WeightedCache<K, V> {
    pub fn new(budget: usize) -> Self {
        WeightedCache {
            budget,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                weight: 0,
            }),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// (hits, misses) of `get` so far.
    pub fn stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, k: &K) -> Option<Arc<V>> {
        use std::sync::atomic::Ordering::Relaxed;
        let v = self.lock().map.get(k).map(|(v, _)| v.clone());
        if v.is_some() {
            &self.hits
        } else {
            &self.misses
        }
        .fetch_add(1, Relaxed);
        v
    }

    /// Insert and return the cached value (an existing entry wins, so all
    /// callers share one copy). Values heavier than the budget are returned
    /// without being cached.
    pub fn insert(&self, k: K, v: Arc<V>, weight: usize) -> Arc<V> {
        if weight > self.budget {
            return v;
        }
        let mut g = self.lock();
        if let Some((existing, _)) = g.map.get(&k) {
            return existing.clone();
        }
        while g.weight + weight > self.budget {
            let Some(old) = g.order.pop_front() else {
                break;
            };
            if let Some((_, w)) = g.map.remove(&old) {
                g.weight -= w;
            }
        }
        g.weight += weight;
        g.order.push_back(k.clone());
        g.map.insert(k, (v.clone(), weight));
        v
    }

    /// Current total weight.
    pub fn weight(&self) -> usize {
        self.lock().weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_within_budget() {
        let c: WeightedCache<u32, [u8]> = WeightedCache::new(10);
        c.insert(1, Arc::from(vec![0u8; 4]), 4);
        c.insert(2, Arc::from(vec![0u8; 4]), 4);
        c.insert(3, Arc::from(vec![0u8; 4]), 4);
        assert!(c.get(&1).is_none());
        assert!(c.get(&2).is_some() && c.get(&3).is_some());
        assert_eq!(c.weight(), 8);
        let big = c.insert(9, Arc::from(vec![0u8; 11]), 11);
        assert_eq!(big.len(), 11);
        assert!(c.get(&9).is_none());
    }
}
