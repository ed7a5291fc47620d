//! `nhi-package`: the deployment's renderings for scripts/package.sh.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nhi_package::extension::{self, Flavor, Template};
use nhi_package::{host, icons};
use nhi_protocol::deployment::Deployment;

const USAGE: &str = "\
nhi-package — renders a deployment (deploy/<name>.json) for scripts/package.sh

usage:
  nhi-package extension --deployment FILE --out DIR [--template DIR] [--flavor chromium|firefox|development]
      without --flavor: DIR/extension-chromium/, DIR/extension-firefox/ and, for a
      store-ready deployment, DIR/nhi-card-bridge-<ver>-{chromium,firefox}.zip;
      with --flavor: that rendering alone, into DIR
  nhi-package host --deployment FILE --staging DIR
      DIR/linux/ (nhi-bridge.json, the manifests) and DIR/windows/ (+ nhi-bridge.wxs)
  nhi-package check DIR        is the unpacked extension in DIR store-ready?
  nhi-package icons --out DIR  draws DIR/icons/icon-{16,48,128}.png
  nhi-package name --deployment FILE   the deployment's name (after checking the file)
  nhi-package version          the workspace version";

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    #[error("cannot read the deployment file {path}: {source}")]
    ReadDeployment {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Deployment {
        path: PathBuf,
        source: nhi_protocol::deployment::DeploymentError,
    },
    #[error(transparent)]
    Extension(#[from] extension::ExtensionError),
    #[error(transparent)]
    Write(#[from] host::WriteError),
}

struct Args {
    deployment: Option<PathBuf>,
    out: Option<PathBuf>,
    staging: Option<PathBuf>,
    template: PathBuf,
    flavor: Option<Flavor>,
    rest: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args, CliError> {
    let mut a = Args {
        deployment: None,
        out: None,
        staging: None,
        template: PathBuf::from("bridge/extension"),
        flavor: None,
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| CliError::Usage(format!("{what} needs a value")))
        };
        match arg.as_str() {
            "--deployment" => a.deployment = Some(value("--deployment")?),
            "--out" => a.out = Some(value("--out")?),
            "--staging" => a.staging = Some(value("--staging")?),
            "--template" => a.template = value("--template")?,
            "--flavor" => {
                let v = value("--flavor")?;
                a.flavor = Some(match v.to_string_lossy().as_ref() {
                    "chromium" => Flavor::Chromium,
                    "firefox" => Flavor::Firefox,
                    "development" => Flavor::Development,
                    other => return Err(CliError::Usage(format!("unknown flavor {other:?}"))),
                });
            }
            other if other.starts_with("--") => {
                return Err(CliError::Usage(format!("unknown option {other:?}")))
            }
            other => a.rest.push(other.to_string()),
        }
    }
    Ok(a)
}

fn need(v: Option<PathBuf>, what: &str) -> Result<PathBuf, CliError> {
    v.ok_or_else(|| CliError::Usage(format!("{what} is required")))
}

fn load_deployment(path: &Path) -> Result<Deployment, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::ReadDeployment {
        path: path.to_path_buf(),
        source,
    })?;
    Deployment::parse(&text).map_err(|source| CliError::Deployment {
        path: path.to_path_buf(),
        source,
    })
}

fn run(args: &[String]) -> Result<(), CliError> {
    let cmd = args.first().map(String::as_str).unwrap_or_default();
    let a = parse(args.get(1..).unwrap_or_default())?;
    match cmd {
        "extension" => {
            let d = load_deployment(&need(a.deployment, "--deployment")?)?;
            let out = need(a.out, "--out")?;
            let template = Template::load(&a.template)?;
            if let Some(flavor) = a.flavor {
                extension::render(&template, &d, flavor)?.write_dir(&out)?;
                println!(
                    "{}: {} extension of {}",
                    out.display(),
                    flavor.name(),
                    d.name
                );
                return Ok(());
            }
            let store = d.store_ready();
            for flavor in [Flavor::Chromium, Flavor::Firefox] {
                let r = extension::render(&template, &d, flavor)?;
                let dir = out.join(format!("extension-{}", flavor.name()));
                r.write_dir(&dir)?;
                println!("{}: unpacked {} extension", dir.display(), flavor.name());
                let zip = out.join(extension::zip_name(flavor));
                let _ = std::fs::remove_file(&zip);
                if store.is_ok() {
                    r.write_zip(&zip)?;
                    println!("{}: store package (checked store-ready)", zip.display());
                }
            }
            if let Err(e) = store {
                println!("no store zips: {e}");
            }
            Ok(())
        }
        "host" => {
            let d = load_deployment(&need(a.deployment, "--deployment")?)?;
            let staging = need(a.staging, "--staging")?;
            for p in host::write_staging(&d, &staging)? {
                println!("{}", p.display());
            }
            Ok(())
        }
        "check" => {
            let dir = a
                .rest
                .first()
                .map(PathBuf::from)
                .ok_or_else(|| CliError::Usage("check needs a folder".into()))?;
            let t = Template::load(&dir)?;
            let problems = extension::store_problems(&t.manifest, &t.sw_js);
            if problems.is_empty() {
                println!("{}: store-ready", dir.display());
                Ok(())
            } else {
                Err(extension::ExtensionError::NotStoreReady(problems).into())
            }
        }
        "icons" => {
            let out = need(a.out, "--out")?;
            for (name, png) in icons::icons() {
                let path = out.join(name);
                let werr = |source| host::WriteError {
                    path: path.clone(),
                    source,
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(werr)?;
                }
                std::fs::write(&path, png).map_err(werr)?;
                println!("{}", path.display());
            }
            Ok(())
        }
        "name" => {
            let d = load_deployment(&need(a.deployment, "--deployment")?)?;
            println!("{}", d.name);
            Ok(())
        }
        "version" => {
            println!("{}", extension::VERSION);
            Ok(())
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nhi-package: {e}");
            ExitCode::FAILURE
        }
    }
}
