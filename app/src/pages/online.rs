//! What the online-service pages (F9) share: downloads that check the session first,
//! number and time formatting. Session expiry itself is [`crate::session`].

use leptos::prelude::*;

use crate::session::is_expired;

/// A download link (CSV, PDF) that checks the session first: a plain click asks `/me`, then
/// either goes to `href` (an attachment: the browser downloads it and stays on the page) or
/// shows the session-expired notice instead of saving an error as the file. Modified clicks
/// (new tab, save as) keep the browser's behaviour.
pub fn guarded_download(
    ev: leptos::ev::MouseEvent,
    href: String,
    expired: RwSignal<bool>,
    error: RwSignal<Option<crate::i18n::Msg>>,
) {
    if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key() || ev.button() != 0 {
        return;
    }
    ev.prevent_default();
    leptos::task::spawn_local(async move {
        match crate::api::get::<nhi_protocol::api::UserInfo>("/me").await {
            Ok(_) => {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().assign(&href);
                }
            }
            Err(e) if is_expired(&e) => {
                expired.set(true);
            }
            Err(e) => {
                error.set(Some(crate::i18n::Msg::from(&e)));
            }
        }
    });
}

/// `12345` → `12,345`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Escapes text for SVG/HTML markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: the applications page wrote times in the browser's zone, the mails in
    /// Taiwan's, the unit pages in the browser's locale format.
    #[test]
    fn times_are_shown_one_way() {
        assert_eq!(nhi_protocol::date::show_time(0), "1970-01-01 08:00");
        assert_eq!(
            nhi_protocol::date::show_time(1_795_673_100),
            "2026-11-26 14:05"
        );
    }

    #[test]
    fn numbers_and_escaping() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
