//! `scripts/run.sh --print` (issue 17): what the newcomer's run command says, checked without
//! building or starting anything. The script runs in a copy of the files it reads, so the
//! first-run / later-run note can be checked both ways.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A scratch tree with the script and what it reads.
fn scratch() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("nhi-run-sh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for file in [
        "scripts/run.sh",
        "app/locales/zh-TW/main.ftl",
        "app/locales/en/main.ftl",
        "data/sample/card-holders.json",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().context("parent")?)?;
        std::fs::copy(repo().join(file), &to).with_context(|| file.to_owned())?;
    }
    std::fs::create_dir_all(dir.join("home"))?;
    Ok(dir)
}

fn print(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let mut cmd = Command::new("bash");
    cmd.arg(dir.join("scripts/run.sh"))
        .arg("--print")
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("NHI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir.join("home"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.status.success(), "run.sh --print failed:\n{text}");
    Ok(text)
}

/// A message of the UI's main.ftl.
fn ui_label(lang: &str, key: &str) -> Result<String> {
    let text = std::fs::read_to_string(repo().join(format!("app/locales/{lang}/main.ftl")))?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")).map(str::to_owned))
        .with_context(|| format!("{lang} {key}"))
}

#[test]
fn run_sh_says_what_to_open_type_and_read() -> Result<()> {
    let dir = scratch()?;
    let text = print(&dir, &[], &[])?;
    // The page labels are the UI's own.
    for (lang, key) in [
        ("zh-TW", "nav-check"),
        ("en", "nav-check"),
        ("zh-TW", "nav-register"),
        ("en", "nav-register"),
    ] {
        let label = ui_label(lang, key)?;
        ensure!(
            text.contains(&label),
            "{lang} {key} {label:?} missing:\n{text}"
        );
    }
    // Whom the virtual card plays, and the household data to type (the first holder).
    for needle in [
        "王小明",
        "A123456789",
        "F1234567",
        "臺北市 / 大安區 / 龍坡里",
        "鄰 (neighbourhood) 5",
    ] {
        ensure!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    // The readable mail file, not "open the .eml files".
    ensure!(text.contains("open the .txt file"), "{text}");
    ensure!(!text.contains("open the .eml"), "{text}");
    ensure!(
        text.contains("http://localhost:8080 (open exactly this address)"),
        "{text}"
    );
    // Per user by default, announced; nothing in /etc unless asked.
    ensure!(text.contains("for this user only"), "{text}");
    ensure!(!text.contains("/etc"), "{text}");
    ensure!(text.contains("first build: several minutes"), "{text}");
    ensure!(!dir.join(".run").exists(), "--print writes nothing");

    let other = print(
        &dir,
        &["--system-wide"],
        &[("NHI_VCARD_HOLDER", "B223456719")],
    )?;
    for needle in [
        "SYSTEM-WIDE",
        "/etc/opt/chrome",
        "陳美麗",
        "B0012345",
        "臺中市 / 西屯區 / 福安里",
    ] {
        ensure!(other.contains(needle), "{needle:?} missing:\n{other}");
    }

    // A later run says so.
    std::fs::create_dir_all(dir.join("target/release"))?;
    std::fs::create_dir_all(dir.join("dist"))?;
    std::fs::write(dir.join("dist/index.html"), "<!doctype html>")?;
    let server = dir.join("target/release/nhi-server");
    std::fs::write(&server, "#!/bin/sh\n")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o755))?;
    }
    let later = print(&dir, &[], &[])?;
    ensure!(later.contains("rebuilding only what changed"), "{later}");
    ensure!(!later.contains("first build"), "{later}");

    // The header comment names the database file the script uses.
    let script = std::fs::read_to_string(repo().join("scripts/run.sh"))?;
    ensure!(script.contains("SQLite (.run/nhi.db)"), "header comment");
    ensure!(
        script.contains("sqlite://$run_dir/nhi.db?mode=rwc"),
        "database url"
    );
    // Build output is shown, not thrown away.
    ensure!(
        !script.contains("build-app.sh >/dev/null"),
        "SPA build output hidden"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
