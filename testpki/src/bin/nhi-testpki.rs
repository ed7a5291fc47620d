//! `nhi-testpki init <DIR> [--force]` generates the test PKI (idempotent: a valid one is
//! reused); `nhi-testpki env <DIR>` prints the server's certificate-login settings as
//! `KEY=value` lines for `eval`.

use std::process::ExitCode;

use nhi_testpki::{Outcome, TestPki};

const USAGE: &str = "usage: nhi-testpki init <DIR> [--force] | nhi-testpki env <DIR>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["init", dir] => init(dir, false),
        ["init", dir, "--force"] | ["init", "--force", dir] => init(dir, true),
        ["env", dir] => env(dir),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhi-testpki: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init(dir: &str, force: bool) -> Result<(), nhi_testpki::Error> {
    let (pki, outcome) = TestPki::init_with(dir, force)?;
    let what = match outcome {
        Outcome::Reused => "reused".to_owned(),
        Outcome::Created => "generated".to_owned(),
        Outcome::Forced => "regenerated (--force)".to_owned(),
        Outcome::Regenerated(why) => format!("regenerated ({why})"),
    };
    eprintln!(
        "nhi-testpki: test PKI in {} {what}: {} cards",
        pki.dir().display(),
        pki.cards().len()
    );
    Ok(())
}

fn env(dir: &str) -> Result<(), nhi_testpki::Error> {
    let pki = TestPki::load(dir)?;
    for (key, value) in pki.env() {
        println!("{key}={}", shell_quote(&value));
    }
    Ok(())
}

/// Single-quoted for the shell when the value needs it (paths with spaces).
fn shell_quote(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-,:=+@".contains(c))
    {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}
