//! Few statement shapes for many batch sizes.
//!
//! The engine writes in batches: `… WHERE id IN (?, …)` over the rows of a batch, multi-row
//! `INSERT`s. Each length of list is a statement text of its own, which the driver prepares and
//! keeps in a small per-connection cache (100 statements by default), evicting others. On MySQL
//! and MariaDB, sqlx closes an evicted statement with a packet the server does not answer, and
//! sends the next command right behind it: without `TCP_NODELAY` (sqlx does not set it), that
//! command waits for the server's delayed acknowledgement of the close, 40 ms on Linux. Measured:
//! a backlog drained at 1,800 deliveries per second on MariaDB against 8,000 on PostgreSQL and
//! SQLite, each claim of a lane taking 48 ms of which the queries took 4.
//!
//! So the lengths are kept to powers of two: a list of ids is padded to the next one by repeating
//! its last id (which changes no `IN`), and the rows of an insert are written in runs of
//! power-of-two lengths. Each statement then has at most ten shapes.

/// Ids or rows per statement, at most: a power of two.
pub(crate) const CHUNK: usize = 512;

/// `ids` padded to the next power of two by repeating the last one, for an `IN` list: the same
/// rows match. `ids` longer than [`CHUNK`] are left as they are (callers chunk them first).
pub(crate) fn padded<T: Clone>(ids: &[T]) -> Vec<T> {
    let mut padded = ids.to_vec();
    if let Some(last) = ids.last()
        && ids.len() <= CHUNK
    {
        padded.resize(ids.len().next_power_of_two(), last.clone());
    }
    padded
}

/// `items` in runs of at most [`CHUNK`] whose lengths are powers of two, longest first (300
/// rows: 256, 32, 8 and 4).
pub(crate) fn runs<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = CHUNK.min(1 << rest.len().ilog2());
        let (run, after) = rest.split_at(len);
        rest = after;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_padded_with_the_last_to_a_power_of_two() {
        assert_eq!(padded(&[1, 2, 3]), [1, 2, 3, 3]);
        assert_eq!(padded(&[1, 2, 3, 4]), [1, 2, 3, 4]);
        assert_eq!(padded(&[7]), [7]);
        assert!(padded::<u8>(&[]).is_empty());
        assert_eq!(padded(&vec![0; 300]).len(), 512);
    }

    #[test]
    fn rows_go_in_runs_of_powers_of_two_longest_first() {
        let rows: Vec<usize> = (0..1_300).collect();
        let lengths: Vec<usize> = runs(&rows).map(<[usize]>::len).collect();
        assert_eq!(lengths, [512, 512, 256, 16, 4]);
        assert_eq!(runs(&rows).flatten().copied().collect::<Vec<_>>(), rows, "every row once, in order");
        assert_eq!(runs::<u8>(&[]).count(), 0);
    }
}
