//! Reads the server's file outbox: one `.eml` per mail; the parts are base64 or
//! quoted-printable encoded.

use std::path::Path;

use anyhow::Result;
use base64::Engine;

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The decoded text of every part, concatenated.
    pub text: String,
}

impl Mail {
    /// The confirmation link's path and fragment (`/confirm#ticket=…`), if the mail has one.
    pub fn confirm_path(&self) -> Option<String> {
        self.link_after("/confirm#ticket=")
    }

    /// The first link in the text that starts with `marker` (a path and the start of its
    /// query or fragment), up to where the URL ends.
    pub fn link_after(&self, marker: &str) -> Option<String> {
        let start = self.text.find(marker)?;
        Some(
            self.text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/?#=&-_.%".contains(*c))
                .collect(),
        )
    }
}

/// The one-time ticket of a mailed link (`…#ticket=<ticket>`).
pub fn ticket_of(link: &str) -> Option<&str> {
    let (_, fragment) = link.split_once('#')?;
    fragment
        .split('&')
        .find_map(|kv| kv.strip_prefix("ticket="))
        .filter(|t| !t.is_empty())
}

/// Every mail in `dir`, oldest first.
pub fn read_dir(dir: &Path) -> Result<Vec<Mail>> {
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = match std::fs::read_dir(dir) {
        Ok(d) => d
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| Ok(parse(&std::fs::read_to_string(&p)?)))
        .collect()
}

fn header<'a>(raw: &'a str, name: &str) -> &'a str {
    raw.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_default()
}

fn parse(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let mut text = String::new();
    // Every body part: headers, blank line, body until the next boundary line.
    for part in raw.split("\n--") {
        let Some((head, body)) = part.split_once("\n\n") else {
            continue;
        };
        let body = body.split("\n--").next().unwrap_or_default();
        let enc = head.to_ascii_lowercase();
        if enc.contains("content-transfer-encoding: base64") {
            let joined: String = body.split_whitespace().collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        } else if enc.contains("content-transfer-encoding: quoted-printable") {
            text.push_str(&quoted_printable(body));
        } else {
            text.push_str(body);
        }
        text.push('\n');
    }
    Mail {
        to: header(&raw, "To").to_string(),
        subject: header(&raw, "Subject").to_string(),
        text,
    }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
