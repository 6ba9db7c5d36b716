//! [`Pool`]: a fixed set of named threads running jobs from one queue, bounded (a submitter waits while it is full) or not.
//!
//! Hand-written over `std::sync::mpsc`: a few dozen lines, where the
//! crates that offer a thread pool are either unmaintained (`threadpool`)
//! or bring a work-stealing scheduler certfs has no use for (`rayon`).
//! The threads share the queue's receiver behind a mutex; they live as
//! long as the queue does, and the queue lives as long as the pool: once
//! the pool is dropped its threads finish what was queued and end.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// One piece of work.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// Where jobs are queued.
enum Queue {
    /// At most this many jobs wait; a submitter waits for room.
    Bounded(SyncSender<Job>),
    /// Any number wait.
    Unbounded(mpsc::Sender<Job>),
}

/// Threads taking jobs from a queue, first in first out.
pub(super) struct Pool {
    queue: Queue,
}

impl Pool {
    /// `threads` threads named `name`, and a queue where at most
    /// `capacity` jobs wait (beyond those running).
    pub(super) fn bounded(name: &str, threads: usize, capacity: usize) -> Self {
        let (sender, receiver) = mpsc::sync_channel(capacity);
        start(name, threads, receiver);
        Pool {
            queue: Queue::Bounded(sender),
        }
    }

    /// `threads` threads named `name`, and a queue of any length.
    pub(super) fn unbounded(name: &str, threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel();
        start(name, threads, receiver);
        Pool {
            queue: Queue::Unbounded(sender),
        }
    }

    /// Queues `job`; on a bounded pool, waits while the queue is full.
    pub(super) fn submit(&self, job: impl FnOnce() + Send + 'static) {
        let job: Job = Box::new(job);
        // The threads hold the receiver as long as the pool exists, unless
        // one is gone with a panic: then the job is dropped, as a thread
        // that died would have dropped it.
        let sent = match &self.queue {
            Queue::Bounded(sender) => sender.send(job).is_ok(),
            Queue::Unbounded(sender) => sender.send(job).is_ok(),
        };
        if !sent {
            log::error!("a job was dropped: the pool's threads are gone");
        }
    }

    /// Queues `job` if there is room now; hands it back if the queue is full.
    #[cfg(test)]
    pub(super) fn try_submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), Job> {
        let job: Job = Box::new(job);
        match &self.queue {
            Queue::Bounded(sender) => sender.try_send(job).map_err(|e| match e {
                mpsc::TrySendError::Full(job) | mpsc::TrySendError::Disconnected(job) => job,
            }),
            Queue::Unbounded(sender) => sender.send(job).map_err(|e| e.0),
        }
    }
}

fn start(name: &str, threads: usize, receiver: Receiver<Job>) {
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..threads.max(1) {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || run(&receiver));
        if let Err(e) = spawned {
            log::error!("cannot start a thread of {name}: {e}");
        }
    }
}

/// One thread's life: the next job, until the queue is closed. The lock is
/// held only while waiting for a job, never while running one. A job that
/// panics ends, not the thread: the pool keeps its size (a request whose
/// reply the job held is answered with an error when the reply is dropped).
fn run(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    log::error!("a job of the pool panicked; the thread goes on");
                }
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_job_that_panics_leaves_its_thread_running() {
        let pool = Pool::bounded("test-panic", 1, 4);
        pool.submit(|| panic!("a job's bug"));
        let (done, finished) = channel();
        pool.submit(move || done.send(()).unwrap());
        // A generous bound: a hang detector, not a timing assertion.
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the one thread ran the next job");
    }

    #[test]
    fn a_full_queue_takes_no_more_until_a_job_is_done() {
        let pool = Pool::bounded("test-pool", 1, 1);
        let (started_tx, started) = channel();
        let (gate, gate_rx) = channel::<()>();
        // The only thread runs this job until the gate opens.
        pool.submit(move || {
            started_tx.send(()).unwrap();
            gate_rx.recv().unwrap();
        });
        started.recv().unwrap();
        let (done_tx, done) = channel();
        // One job fits in the queue; the next does not.
        let tx = done_tx.clone();
        pool.submit(move || tx.send("queued").unwrap());
        let tx = done_tx.clone();
        let refused = pool.try_submit(move || tx.send("refused").unwrap());
        assert!(refused.is_err(), "a full queue took another job");
        // The refused job is handed back, not run.
        drop(refused);
        gate.send(()).unwrap();
        assert_eq!(done.recv().unwrap(), "queued");
        // Room again: a job submitted now runs.
        pool.submit(move || done_tx.send("after").unwrap());
        assert_eq!(done.recv().unwrap(), "after");
    }

    #[test]
    fn jobs_run_on_all_threads_at_once() {
        // Three jobs that each wait for the other two can only finish when
        // the three threads run them together.
        let pool = Pool::bounded("test-pool", 3, 0);
        let barrier = Arc::new(std::sync::Barrier::new(3));
        let (done_tx, done) = channel();
        for _ in 0..3 {
            let (barrier, done_tx) = (barrier.clone(), done_tx.clone());
            pool.submit(move || {
                barrier.wait();
                done_tx.send(()).unwrap();
            });
        }
        for _ in 0..3 {
            done.recv().unwrap();
        }
    }

    #[test]
    fn an_unbounded_queue_always_takes_a_job() {
        let pool = Pool::unbounded("test-lane", 1);
        let (gate, gate_rx) = channel::<()>();
        pool.submit(move || gate_rx.recv().unwrap());
        let (done_tx, done) = channel();
        for i in 0..100 {
            let tx = done_tx.clone();
            assert!(pool.try_submit(move || tx.send(i).unwrap()).is_ok());
        }
        gate.send(()).unwrap();
        let order: Vec<i32> = (0..100).map(|_| done.recv().unwrap()).collect();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }
}
