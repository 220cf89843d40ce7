//! Values that deploys compute once per key, however many ask at once: a fleet's hosts
//! usually get one file and hold one live file, so its parse and its diff are the same for
//! all of them. The first caller computes on the blocking pool (a large file takes CPU for a
//! while), the others wait for its answer; at most `capacity` answers are kept, then all
//! are forgotten together (a long-running server sees many files).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

type Shared<V> = Arc<OnceCell<Arc<V>>>;

pub(crate) struct Memo<K, V> {
    capacity: usize,
    known: Mutex<HashMap<K, Shared<V>>>,
}

impl<K: Hash + Eq, V: Default + Send + Sync + 'static> Memo<K, V> {
    pub(crate) fn new(capacity: usize) -> Memo<K, V> {
        Memo { capacity, known: Mutex::new(HashMap::new()) }
    }

    /// The value for `key`, computed by `compute` if no one has (a panic in it gives the
    /// default).
    pub(crate) async fn get(&self, key: K, compute: impl FnOnce() -> V + Send + 'static) -> Arc<V> {
        let shared: Shared<V> = {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if known.len() >= self.capacity {
                known.clear();
            }
            Arc::clone(known.entry(key).or_default())
        };
        let computed = shared
            .get_or_init(|| async {
                Arc::new(tokio::task::spawn_blocking(compute).await.unwrap_or_default())
            })
            .await;
        Arc::clone(computed)
    }
}
