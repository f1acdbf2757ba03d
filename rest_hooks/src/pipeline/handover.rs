//! The hand-over of an update's captured changes from `before_save` to `after_save`.
//!
//! SeaORM's `ActiveModelTrait::update` calls `before_save` with the `ActiveModel` (whose fields
//! are `Set` where the caller changed them), runs the UPDATE, then calls `after_save` with the
//! saved `Model` alone: nothing carries what the update set from one hook to the other. So
//! `before_save` leaves its [`Captured`] here, in a small process-wide table, and `after_save`
//! takes it back. An entry's key is who runs the save — the tokio task (`tokio::task::try_id`),
//! or the thread outside a task — with the model label and the primary key as text.
//!
//! `after_save` takes the **newest** entry of its key. A save awaited on its own finds its own
//! capture, as nothing else of that task can capture the same row between its two hooks; and an
//! update that failed after `before_save` (or `update_without_returning`, which runs no
//! `after_save`) leaves an older entry that a later save of the row never takes. Entries older
//! than a minute are swept when the next capture arrives, so those leave nothing behind.
//!
//! Limits: two updates of the same row joined inside one task (`join!`, `select!`) both capture
//! before either is saved, and each then takes the capture the other made last; their events may
//! report each other's fields. A non-tokio executor that moves a future to another thread between
//! the two hooks loses the capture, and the event is then recorded without changes.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::foundation::changes::Captured;

/// How long a capture waits for its `after_save` before it is swept.
const MAX_AGE: Duration = Duration::from_secs(60);

/// How often a capture sweeps the table.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Who runs a save: its tokio task, or its thread outside a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Runner {
    Task(tokio::task::Id),
    Thread(ThreadId),
}

impl Runner {
    fn current() -> Self {
        tokio::task::try_id().map_or_else(|| Self::Thread(std::thread::current().id()), Self::Task)
    }
}

/// The runner, the model label and the primary key as text.
type Key = (Runner, &'static str, String);

#[derive(Default)]
struct Table {
    entries: HashMap<Key, Vec<(Instant, Captured)>>,
    swept: Option<Instant>,
}

impl Table {
    fn put(&mut self, key: Key, captured: Captured, now: Instant) {
        if self.swept.is_none_or(|swept| now.duration_since(swept) >= SWEEP_EVERY) {
            self.sweep(now);
        }
        self.entries.entry(key).or_default().push((now, captured));
    }

    fn take(&mut self, key: &Key, now: Instant) -> Option<Captured> {
        let queue = self.entries.get_mut(key)?;
        let taken = queue.pop();
        if queue.is_empty() {
            self.entries.remove(key);
        }
        taken.filter(|(at, _)| now.duration_since(*at) < MAX_AGE).map(|(_, captured)| captured)
    }

    fn sweep(&mut self, now: Instant) {
        self.swept = Some(now);
        self.entries.retain(|_, queue| {
            queue.retain(|(at, _)| now.duration_since(*at) < MAX_AGE);
            !queue.is_empty()
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }
}

static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(Mutex::default);

fn table() -> std::sync::MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Leaves what `before_save` captured for the update of row `key` of `model`.
pub(crate) fn put(model: &'static str, key: String, captured: Captured) {
    table().put((Runner::current(), model, key), captured, Instant::now());
}

/// Takes back, in `after_save`, what this runner's `before_save` captured for row `key` of
/// `model`; `None` when nothing was captured.
pub(crate) fn take(model: &'static str, key: String) -> Option<Captured> {
    table().take(&(Runner::current(), model, key), Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(field: &'static str) -> Captured {
        Captured { fields: vec![field], previous: None }
    }

    fn key(pk: &str) -> Key {
        (Runner::current(), "bookstore.Book", pk.to_owned())
    }

    #[test]
    fn takes_the_newest_capture_of_its_own_row() {
        let mut table = Table::default();
        let now = Instant::now();
        table.put(key("1"), captured("title"), now);
        table.put(key("2"), captured("pages"), now);
        table.put(key("1"), captured("user_id"), now);
        assert_eq!(table.take(&key("1"), now), Some(captured("user_id")));
        assert_eq!(table.take(&key("2"), now), Some(captured("pages")));
        assert_eq!(table.take(&key("2"), now), None);
        assert_eq!(table.len(), 1, "the older capture of row 1 waits for the sweep");
    }

    #[test]
    fn sweeps_captures_older_than_a_minute() {
        let mut table = Table::default();
        let start = Instant::now();
        table.put(key("1"), captured("title"), start);
        assert_eq!(table.take(&key("1"), start + MAX_AGE), None, "too old to take");
        table.put(key("1"), captured("title"), start);
        table.put(key("2"), captured("title"), start + MAX_AGE);
        assert_eq!(table.len(), 1, "the capture of row 1 was swept");
    }

    #[tokio::test]
    async fn tasks_do_not_see_each_other() {
        put("bookstore.Handover", "1".into(), captured("title"));
        let other = tokio::spawn(async { take("bookstore.Handover", "1".into()) }).await.unwrap();
        assert_eq!(other, None);
        assert_eq!(take("bookstore.Handover", "1".into()), Some(captured("title")));
    }
}
