//! Validates a policy file with the filter's own parser: `policy_check FILE` prints a summary and
//! exits 0, or prints the error naming the field and exits 1. `envoy/apply-policy.py` runs it before
//! swapping a policy in. The secret named by `hash_secret_env` is read from this process's environment.

use std::process::ExitCode;

use distill_guard::policy::Policy;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: policy_check POLICY.json");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    match Policy::parse(&bytes, &env) {
        Ok(p) => {
            println!("{path}: policy OK ({})", p.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
