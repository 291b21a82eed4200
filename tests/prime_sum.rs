//! The prime_sum example: the fork/pipe/waitpid demonstration gives the known answer for one
//! process and for several.

use std::process::{Command, Output};

/// Runs the example through cargo, which builds it first if this test run did not.
fn run_example(args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "prime_sum", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the prime_sum example")
}

#[test]
fn sums_the_primes_below_100000_in_one_and_in_several_processes() {
    let output = run_example(&[]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty(), "{stdout}");
    for line in &lines {
        assert!(line.contains("sum of primes = 454396537"), "{line}");
    }
    assert!(lines[0].contains("K = 1:"), "{stdout}");
}

#[test]
fn small_limits_are_exact() {
    let output = run_example(&["30"]);
    // 2 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23 + 29
    assert!(String::from_utf8_lossy(&output.stdout).contains("sum of primes = 129"));
}
