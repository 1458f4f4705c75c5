//! The timetable: every poller waiting for its next poll, in one task.
//!
//! A poller is a task only while it polls. Between polls it is an entry in a heap,
//! about 150 bytes with its slot, where a sleeping task of its own took some 500
//! (tokio's task cell, its timer, the allocator's padding for the cell's alignment):
//! at 10,000 apps with four collectors each, that is 14 MB given back.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

use super::{jitter, next_wait, transient, Poller};

/// A poller's number in the timetable, never given twice.
pub(super) type PollerId = u64;

enum Command {
    /// Polls `poller` first after `first`, then on its interval.
    Add { id: PollerId, poller: Poller, first: Duration },
    /// Stops the poller: out of the timetable, its poll aborted if one runs.
    Remove(PollerId),
}

enum Slot {
    /// Waiting for `due`. `failed`: how many polls in a row failed on a transient error.
    Waiting { poller: Box<Poller>, due: Instant, failed: u32 },
    /// Polling now; the poll's task gives the poller back when done.
    Polling { poll: AbortHandle, failed: u32 },
}

/// The scheduler's handle on the timetable task. Dropping it stops every poller,
/// a poll under way included.
pub(super) struct Timetable {
    tx: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
    next_id: PollerId,
}

impl Timetable {
    /// Starts the timetable's task (on the current tokio runtime).
    pub(super) fn start() -> Timetable {
        let (tx, rx) = mpsc::unbounded_channel();
        Timetable { tx, task: tokio::spawn(run(rx)), next_id: 0 }
    }

    pub(super) fn add(&mut self, poller: Poller, first: Duration) -> PollerId {
        let id = self.next_id;
        self.next_id += 1;
        // The task ends only when this handle drops, so the send cannot fail while it lives.
        let _ = self.tx.send(Command::Add { id, poller, first });
        id
    }

    pub(super) fn remove(&self, id: PollerId) {
        let _ = self.tx.send(Command::Remove(id));
    }
}

impl Drop for Timetable {
    fn drop(&mut self) {
        // Aborting the task drops its JoinSet, which aborts the polls under way.
        self.task.abort();
    }
}

/// What a poll's task gives back: the poller, and whether its poll failed on a
/// transient error.
type Done = (PollerId, Box<Poller>, bool);

async fn run(mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut slots: HashMap<PollerId, Slot> = HashMap::new();
    // Earliest first. An entry whose slot is gone, polling or due at another time is
    // stale (its poller was removed, or re-added under a new number) and is skipped.
    let mut due: BinaryHeap<Reverse<(Instant, PollerId)>> = BinaryHeap::new();
    let mut polls: JoinSet<Done> = JoinSet::new();
    let far = || Instant::now() + Duration::from_secs(86_400 * 365);
    let timer = tokio::time::sleep_until(far());
    tokio::pin!(timer);
    loop {
        if let Some(Reverse((next, _))) = due.peek()
            && timer.deadline() != *next
        {
            timer.as_mut().reset(*next);
        }
        tokio::select! {
            biased;
            cmd = rx.recv() => match cmd {
                None => return,
                Some(Command::Add { id, poller, first }) => {
                    let at = Instant::now() + first;
                    slots.insert(id, Slot::Waiting { poller: Box::new(poller), due: at, failed: 0 });
                    due.push(Reverse((at, id)));
                }
                Some(Command::Remove(id)) => {
                    if let Some(Slot::Polling { poll, .. }) = slots.remove(&id) {
                        poll.abort();
                    }
                }
            },
            Some(done) = polls.join_next(), if !polls.is_empty() => match done {
                Ok((id, poller, failed_now)) => {
                    // Gone if removed while it polled and finished before the abort landed.
                    let Some(Slot::Polling { failed, .. }) = slots.remove(&id) else { continue };
                    let failed = if failed_now { failed.saturating_add(1) } else { 0 };
                    let wait = next_wait(poller.interval, failed);
                    let at = Instant::now() + wait.mul_f64(0.95).saturating_add(jitter(wait / 10));
                    slots.insert(id, Slot::Waiting { poller, due: at, failed });
                    due.push(Reverse((at, id)));
                }
                // Aborted: removed while it polled. A panic is a bug; the poller is lost
                // with it until the next reload, as a task of its own would have been.
                Err(e) if e.is_panic() => tracing::error!(error = %e, "a poll panicked; its collector stops until the next reload"),
                Err(_) => {}
            },
            () = &mut timer, if !due.is_empty() => {
                let now = Instant::now();
                while let Some(&Reverse((at, id))) = due.peek() {
                    if at > now {
                        break;
                    }
                    due.pop();
                    if !matches!(slots.get(&id), Some(Slot::Waiting { due, .. }) if *due == at) {
                        continue;
                    }
                    let Some(Slot::Waiting { mut poller, failed, .. }) = slots.remove(&id) else { continue };
                    let poll = polls.spawn(async move {
                        // Boxed: the poll's state lives only while it runs.
                        let failed = matches!(Box::pin(poller.poll()).await, Err(e) if transient(&e));
                        (id, poller, failed)
                    });
                    slots.insert(id, Slot::Polling { poll, failed });
                }
            }
        }
    }
}
