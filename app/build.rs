//! Generates the message catalogue from `locales/{zh-TW,en}/*.ftl` into
//! `$OUT_DIR/messages.rs` (included by `src/i18n.rs`): the key enum `T`, one variant per FTL
//! message (`un-nav` → `T::UnNav`), and each message's text in both languages, resolved at
//! build time. `main.ftl` is the citizen area's copy and what all areas share; the texts of
//! `units.ftl` and `online.ftl` go only into the wasm of that area (cargo features `units`,
//! `online`), so the first page does not download the other areas' copy.
//!
//! So the keys are checked when the app compiles: code that names a message no FTL file has
//! does not compile, and the build fails when the two languages define different messages,
//! when a message refers to one that does not exist, when the two languages of a message use
//! different variables, or when a line is not `id = value`.
//!
//! The FTL subset our files use (one line per message): text, `{ $variable }`,
//! `{ message-reference }` and `{"string literal"}`. As Fluent does, a variable in a pattern
//! of more than one element is wrapped in Unicode isolation marks (U+2068 … U+2069).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

const LANGS: [(&str, &str); 2] = [("zh-TW", "ZH_TW"), ("en", "EN")];

#[derive(Debug, Clone)]
enum Elem {
    Text(String),
    Var(String),
    Ref(String),
    Lit(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

fn main() {
    let dir = Path::new("locales");
    println!("cargo:rerun-if-changed=build.rs");
    // main.ftl is the citizen area's copy and what every area shares; units.ftl and
    // online.ftl are their areas' own. Every build has every key (so all pages compile, and
    // the native unit tests see every text), but the wasm of one area carries only the texts
    // of its files: the first page does not download the other areas' copy.
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    let files = [
        ("main.ftl", true),
        (
            "units.ftl",
            !wasm || std::env::var_os("CARGO_FEATURE_UNITS").is_some(),
        ),
        (
            "online.ftl",
            !wasm || std::env::var_os("CARGO_FEATURE_ONLINE").is_some(),
        ),
        // Issue 16: the passkey pages and the unit login's passkey button (both areas).
        (
            "passkeys.ftl",
            !wasm
                || std::env::var_os("CARGO_FEATURE_UNITS").is_some()
                || std::env::var_os("CARGO_FEATURE_ONLINE").is_some(),
        ),
    ];
    let mut catalogues = Vec::new();
    let mut left_out = BTreeSet::new();
    for (lang, _) in LANGS {
        let mut messages = Vec::new();
        for (file, carried) in files {
            let path = dir.join(lang).join(file);
            println!("cargo:rerun-if-changed={}", path.display());
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
            let parsed = parse_file(&text).unwrap_or_else(|e| fail(&format!("{lang}/{file}: {e}")));
            if !carried {
                left_out.extend(parsed.iter().map(|(id, _)| id.clone()));
            }
            messages.extend(parsed);
        }
        let mut seen = BTreeSet::new();
        if let Some((id, _)) = messages.iter().find(|(id, _)| !seen.insert(id.clone())) {
            fail(&format!("{lang}: {id} is defined in two files"));
        }
        catalogues.push(messages);
    }
    // The messages this wasm carries first, then the ones it leaves out: the tables below
    // (ids, texts) then end after the carried ones, and a left-out key (never looked up in
    // this area) falls off their end, costing the first page nothing (issue 16).
    let (carried_ids, other_ids): (Vec<String>, Vec<String>) = catalogues[0]
        .iter()
        .map(|(id, _)| id.clone())
        .partition(|id| !left_out.contains(id));
    let carried = carried_ids.len();
    let ids: Vec<String> = carried_ids.into_iter().chain(other_ids).collect();
    let zh: BTreeSet<&String> = ids.iter().collect();
    let en: BTreeSet<&String> = catalogues[1].iter().map(|(id, _)| id).collect();
    if zh != en {
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        fail(&format!(
            "zh-TW and en define different messages: only in zh-TW {only_zh:?}, only in en {only_en:?}"
        ));
    }
    let mut resolved: Vec<BTreeMap<String, Vec<Part>>> = Vec::new();
    for (n, messages) in catalogues.iter().enumerate() {
        let map: BTreeMap<&str, &Vec<Elem>> =
            messages.iter().map(|(id, e)| (id.as_str(), e)).collect();
        let mut out = BTreeMap::new();
        for id in &ids {
            let parts = resolve(&map, id, &mut Vec::new())
                .unwrap_or_else(|e| fail(&format!("{}: {id}: {e}", LANGS[n].0)));
            out.insert(id.clone(), merge(parts));
        }
        resolved.push(out);
    }
    for id in &ids {
        let vars = |n: usize| -> BTreeSet<String> {
            resolved[n][id]
                .iter()
                .filter_map(|p| match p {
                    Part::Var(v) => Some(v.clone()),
                    Part::Text(_) => None,
                })
                .collect()
        };
        if vars(0) != vars(1) {
            fail(&format!(
                "{id}: zh-TW uses the variables {:?}, en {:?}",
                vars(0),
                vars(1)
            ));
        }
    }

    let mut code = String::new();
    code.push_str("// Generated by app/build.rs from locales/*/main.ftl. Do not edit.\n\n");
    code.push_str(
        "/// The messages of the FTL files, one key each (checked when the app compiles).\n",
    );
    code.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n");
    code.push_str("pub enum T {\n");
    for id in &ids {
        let _ = writeln!(code, "    /// `{id}`\n    {},", camel(id));
    }
    code.push_str("}\n\n");
    let _ = writeln!(code, "const COUNT: usize = {};\n", ids.len());
    code.push_str("impl T {\n    /// Every key, in the order of the FTL files.\n    pub const ALL: [T; COUNT] = [\n");
    for id in &ids {
        let _ = writeln!(code, "        T::{},", camel(id));
    }
    code.push_str("    ];\n}\n\n");
    // Only the carried messages have ids and texts here ([`T::text`] and [`T::id`] answer
    // nothing for the others); `KEYS` maps an id's position back to its key.
    let _ = writeln!(code, "const CARRIED: usize = {carried};\n");
    code.push_str("/// The keys of the carried messages, by position in `IDS`.\nstatic KEYS: [T; CARRIED] = [\n");
    for id in &ids[..carried] {
        let _ = writeln!(code, "    T::{},", camel(id));
    }
    code.push_str("];\n\n");
    code.push_str("/// The FTL message ids of the carried messages, by key.\nstatic IDS: [&str; CARRIED] = [\n");
    for id in &ids[..carried] {
        let _ = writeln!(code, "    {id:?},");
    }
    code.push_str("];\n\n");
    // Each text is one string, a variable's name between two NULs (`"Step \0n\0 of …"`):
    // a string per message costs the bundle less than a slice of parts.
    for (n, (_, name)) in LANGS.iter().enumerate() {
        let _ = writeln!(code, "static {name}: [&str; CARRIED] = [");
        for id in &ids[..carried] {
            let mut text = String::new();
            for part in &resolved[n][id] {
                match part {
                    Part::Text(t) => text.push_str(t),
                    Part::Var(v) => {
                        text.push('\0');
                        text.push_str(v);
                        text.push('\0');
                    }
                }
            }
            let _ = writeln!(code, "    {text:?},");
        }
        code.push_str("];\n\n");
    }
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|e| fail(&e.to_string())))
        .join("messages.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| fail(&format!("{}: {e}", out.display())));
}

fn fail(msg: &str) -> ! {
    eprintln!("app/build.rs: {msg}");
    std::process::exit(1)
}

/// `un-nav` → `UnNav`.
fn camel(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn parse_file(text: &str) -> Result<Vec<(String, Vec<Elem>)>, String> {
    let mut out: Vec<(String, Vec<Elem>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (id, value) = line
            .split_once(" = ")
            .or_else(|| line.split_once('=').map(|(a, b)| (a.trim_end(), b)))
            .ok_or_else(|| format!("line {}: not `id = value`: {line:?}", n + 1))?;
        let ok_id = id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok_id {
            return Err(format!("line {}: bad message id {id:?}", n + 1));
        }
        if !seen.insert(id.to_string()) {
            return Err(format!("line {}: {id} defined twice", n + 1));
        }
        let elems = parse_pattern(value.trim_start_matches(' ').trim_end())
            .map_err(|e| format!("line {}: {id}: {e}", n + 1))?;
        if elems.is_empty() {
            return Err(format!("line {}: {id} has no value", n + 1));
        }
        out.push((id.to_string(), elems));
    }
    Ok(out)
}

fn parse_pattern(value: &str) -> Result<Vec<Elem>, String> {
    let mut elems = Vec::new();
    let mut text = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                if !text.is_empty() {
                    elems.push(Elem::Text(std::mem::take(&mut text)));
                }
                let mut inner = String::new();
                let mut in_string = false;
                loop {
                    let c = chars.next().ok_or("a `{` without `}`")?;
                    match c {
                        '"' => {
                            in_string = !in_string;
                            inner.push(c);
                        }
                        '\\' if in_string => {
                            inner.push(c);
                            inner.push(chars.next().ok_or("a `\\` at the end")?);
                        }
                        '}' if !in_string => break,
                        _ => inner.push(c),
                    }
                }
                elems.push(placeable(inner.trim())?);
            }
            '}' => return Err("a `}` without `{`".into()),
            _ => text.push(c),
        }
    }
    if !text.is_empty() {
        elems.push(Elem::Text(text));
    }
    Ok(elems)
}

fn placeable(inner: &str) -> Result<Elem, String> {
    let ident = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if let Some(var) = inner.strip_prefix('$') {
        return ident(var)
            .then(|| Elem::Var(var.to_string()))
            .ok_or_else(|| format!("bad variable {inner:?}"));
    }
    if let Some(lit) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = lit.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    other => return Err(format!("unsupported escape \\{other:?} in {inner:?}")),
                },
                _ => out.push(c),
            }
        }
        return Ok(Elem::Lit(out));
    }
    if ident(inner) {
        return Ok(Elem::Ref(inner.to_string()));
    }
    Err(format!("unsupported placeable {{{inner}}}"))
}

fn resolve(
    map: &BTreeMap<&str, &Vec<Elem>>,
    id: &str,
    stack: &mut Vec<String>,
) -> Result<Vec<Part>, String> {
    if stack.iter().any(|s| s == id) {
        return Err(format!("a cycle of references: {stack:?}"));
    }
    let elems = map
        .get(id)
        .ok_or_else(|| format!("refers to {id}, which does not exist"))?;
    stack.push(id.to_string());
    let isolate = elems.len() > 1;
    let mut parts = Vec::new();
    for e in elems.iter() {
        match e {
            Elem::Text(t) | Elem::Lit(t) => parts.push(Part::Text(t.clone())),
            Elem::Var(v) if isolate => {
                parts.push(Part::Text("\u{2068}".into()));
                parts.push(Part::Var(v.clone()));
                parts.push(Part::Text("\u{2069}".into()));
            }
            Elem::Var(v) => parts.push(Part::Var(v.clone())),
            Elem::Ref(r) => parts.extend(resolve(map, r, stack)?),
        }
    }
    stack.pop();
    Ok(parts)
}

fn merge(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::new();
    for p in parts {
        match (out.last_mut(), p) {
            (Some(Part::Text(a)), Part::Text(b)) => a.push_str(&b),
            (_, p) => out.push(p),
        }
    }
    out
}
