//! The fork/pipe/waitpid machinery of the master, on a small problem: the sum of the primes
//! below N, split across K forked processes that send their partial sums to the parent through
//! a pipe. Uses the server's own process helpers (`forkhttpd::process`).
//!
//! ```text
//! cargo run --release --example prime_sum            # N = 100000: 454396537
//! cargo run --release --example prime_sum -- 2000000
//! ```

use std::os::fd::OwnedFd;
use std::time::Instant;

use forkhttpd::process::{self, Exit, Forked};

/// Numbers are dealt to the processes in blocks, round robin, so each gets a fair share of the
/// larger (costlier) numbers.
const BLOCK: u64 = 1024;

fn main() {
    let limit: u64 = match std::env::args().nth(1).map(|arg| arg.parse()) {
        None => 100_000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: prime_sum [N]");
            std::process::exit(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut counts = vec![1];
    if cores > 1 {
        counts.push(cores);
    }
    for processes in counts {
        let started = Instant::now();
        match sum_in_processes(limit, processes) {
            Ok(sum) => println!(
                "N = {limit}, K = {processes}: sum of primes = {sum} in {:.2} ms",
                started.elapsed().as_secs_f64() * 1000.0
            ),
            Err(e) => {
                eprintln!("prime_sum: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// Forks `processes` children, each summing its share of the primes below `limit` and writing
/// the partial sum (8 bytes, so the write is atomic) to a shared pipe; the parent adds them up
/// and reaps every child.
fn sum_in_processes(limit: u64, processes: usize) -> Result<u64, String> {
    let (read_end, write_end): (OwnedFd, OwnedFd) =
        nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut children = Vec::new();
    for index in 0..processes {
        match process::fork().map_err(|e| format!("fork: {e}"))? {
            Forked::Child => {
                drop(read_end);
                let partial = sum_share(limit, index as u64, processes as u64);
                let written = nix::unistd::write(&write_end, &partial.to_le_bytes());
                std::process::exit(if written == Ok(8) { 0 } else { 1 });
            }
            Forked::Parent(pid) => children.push(pid),
        }
    }
    // Our copy of the write end must go, or the read below would never see end of file.
    drop(write_end);
    let mut total = 0u64;
    let mut received = 0;
    let mut word = [0u8; 8];
    let mut filled = 0;
    loop {
        match nix::unistd::read(&read_end, &mut word[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled == 8 {
                    total += u64::from_le_bytes(word);
                    received += 1;
                    filled = 0;
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    for pid in children {
        match process::wait(pid).map_err(|e| format!("waitpid: {e}"))? {
            Exit::Code(0) => {}
            other => return Err(format!("child {pid} failed: {other}")),
        }
    }
    if received != processes {
        return Err(format!("{received} partial sums for {processes} processes"));
    }
    Ok(total)
}

/// Sum of the primes below `limit` in blocks `index`, `index + stride`, ...
fn sum_share(limit: u64, index: u64, stride: u64) -> u64 {
    let mut sum = 0;
    let mut start = index * BLOCK;
    while start < limit {
        for n in start..(start + BLOCK).min(limit) {
            if is_prime(n) {
                sum += n;
            }
        }
        start += stride * BLOCK;
    }
    sum
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n % 2 == 0 {
        return n == 2;
    }
    let mut divisor = 3;
    while divisor * divisor <= n {
        if n % divisor == 0 {
            return false;
        }
        divisor += 2;
    }
    true
}
