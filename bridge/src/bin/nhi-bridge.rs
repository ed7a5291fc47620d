//! `nhi-bridge`: the NHI card bridge.
//!
//! - Started by a browser (`chrome-extension://ID/` or Firefox's `MANIFEST ADDON_ID` as
//!   arguments): native-messaging host on stdin/stdout.
//! - `nhi-bridge install [--user|--system] [--browser LIST] [--profile DIR]... [--dry-run]`
//! - `nhi-bridge uninstall` (same options)
//! - `nhi-bridge doctor`

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use nhi_bridge::config::{Caller, Config};
use nhi_bridge::install::{self, Scope};
use nhi_bridge::{doctor, framing, host, logging, session};
use nhi_protocol::bridge::{ErrorCode, MAX_REPLY_FRAME};

const USAGE: &str = "\
nhi-bridge — 健保卡讀卡元件 / NHI card bridge

usage:
  nhi-bridge install   [--user | --system] [--browser chrome,chromium,edge,firefox] [--profile DIR]... [--dry-run]
  nhi-bridge uninstall [--user | --system] [--browser ...] [--profile DIR]... [--dry-run]
  nhi-bridge doctor
  nhi-bridge --version

Browsers start it themselves (native messaging); it is not meant to be run by hand otherwise.
--profile DIR: also register in a Chromium --user-data-dir (DIR/NativeMessagingHosts/).
Configuration: $NHI_BRIDGE_CONFIG, or nhi-bridge.json next to the program; a packaged build
then /etc/nhi-bridge/nhi-bridge.json (macOS: /Library/Application Support/NHI Card Bridge/)
and never development defaults.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("install") => install_cmd(&args[1..], false),
        Some("uninstall") => install_cmd(&args[1..], true),
        Some("doctor") => doctor::run(&mut std::io::stdout().lock()),
        Some("--version" | "-V") => {
            println!(
                "nhi-bridge {} (protocol {}, {} build)",
                nhi_bridge::VERSION,
                nhi_protocol::bridge::PROTOCOL_VERSION,
                if nhi_bridge::config::PACKAGED {
                    "packaged"
                } else {
                    "development"
                }
            );
            0
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            0
        }
        _ => match Caller::from_args(&args) {
            Some(caller) => host_mode(&caller),
            None => {
                eprintln!("{USAGE}");
                2
            }
        },
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Native-messaging host mode. Nothing but frames goes to stdout.
fn host_mode(caller: &Caller) -> i32 {
    let config = match Config::load() {
        Ok((c, _)) => c,
        Err(e) => {
            // Logged, on stderr (the browser keeps the host's stderr in its log) and to the
            // page, which shows the bridge as broken.
            logging::init_file(Config::default().log_path().as_deref(), "info");
            tracing::error!("{e}");
            eprintln!("nhi-bridge: {e}");
            refuse(ErrorCode::Internal, &format!("bridge configuration: {e}"));
            return 1;
        }
    };
    logging::init_file(config.log_path().as_deref(), "info");
    if !config.caller_allowed(caller) {
        tracing::warn!(?caller, "caller not allowed");
        refuse(
            ErrorCode::OriginNotAllowed,
            "this extension may not use the bridge",
        );
        return 1;
    }
    tracing::info!(?caller, version = nhi_bridge::VERSION, "started");
    host::run(&config, std::io::stdin().lock(), std::io::stdout())
}

/// Sends one error frame (no request id) before exiting.
fn refuse(code: ErrorCode, message: &str) {
    let m = session::frame_error_reply(code, message);
    if let Ok(body) = serde_json::to_vec(&m) {
        let _ = framing::write_frame(&mut std::io::stdout().lock(), &body, MAX_REPLY_FRAME);
    }
}

fn install_cmd(args: &[String], remove: bool) -> i32 {
    let opts = match install::parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return 2;
        }
    };
    // Said before anything is written.
    eprintln!("{}", install::announcement(&opts, remove));
    let config = match Config::load() {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("nhi-bridge: {e}");
            return 1;
        }
    };
    match install::apply(&opts, &config, remove) {
        Ok(done) => {
            for line in &done {
                println!("{line}");
            }
            if done.is_empty() {
                println!("nothing to do");
            }
            0
        }
        Err(e) => {
            eprintln!("nhi-bridge: {e}");
            if matches!(e, install::InstallError::Write { .. }) && opts.scope == Scope::System {
                eprintln!("(system-wide registration needs administrator rights; use --user for this account only)");
            }
            1
        }
    }
}
