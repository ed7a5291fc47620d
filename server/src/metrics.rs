//! Prometheus metrics in the text exposition format (a handful of counters; no extra crate).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub http_errors_4xx: AtomicU64,
    pub http_errors_5xx: AtomicU64,
    pub registrations: AtomicU64,
    pub confirmations: AtomicU64,
    pub resends: AtomicU64,
    pub logins: AtomicU64,
    pub logins_failed: AtomicU64,
    pub lockouts: AtomicU64,
    pub proofs_rejected: AtomicU64,
    pub rate_limited: AtomicU64,
    pub mails_sent: AtomicU64,
    pub mail_failures: AtomicU64,
}

impl Metrics {
    pub fn inc(&self, c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the counters plus the outbox gauges.
    pub fn render(&self, outbox: Option<(i64, i64, i64)>) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 13] = [
            (
                "nhi_http_requests_total",
                "HTTP requests served",
                &self.http_requests,
            ),
            (
                "nhi_http_client_errors_total",
                "HTTP 4xx answers",
                &self.http_errors_4xx,
            ),
            (
                "nhi_http_server_errors_total",
                "HTTP 5xx answers",
                &self.http_errors_5xx,
            ),
            (
                "nhi_registrations_total",
                "Accepted registrations (F1)",
                &self.registrations,
            ),
            (
                "nhi_confirmations_total",
                "Confirmed registrations (F2)",
                &self.confirmations,
            ),
            (
                "nhi_resends_total",
                "Confirmation mails re-sent (F8)",
                &self.resends,
            ),
            ("nhi_logins_total", "Successful logins (F3)", &self.logins),
            (
                "nhi_login_failures_total",
                "Failed logins",
                &self.logins_failed,
            ),
            (
                "nhi_lockouts_total",
                "Card lockouts after wrong passwords",
                &self.lockouts,
            ),
            (
                "nhi_card_proofs_rejected_total",
                "Rejected card proofs",
                &self.proofs_rejected,
            ),
            (
                "nhi_rate_limited_total",
                "Requests refused by the per-IP rate limit",
                &self.rate_limited,
            ),
            (
                "nhi_mails_sent_total",
                "Mails delivered by this instance",
                &self.mails_sent,
            ),
            (
                "nhi_mail_failures_total",
                "Failed mail delivery attempts",
                &self.mail_failures,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        if let Some((pending, sent, failed)) = outbox {
            let _ = writeln!(out, "# HELP nhi_outbox_mails Mails in the outbox by state\n# TYPE nhi_outbox_mails gauge");
            let _ = writeln!(out, "nhi_outbox_mails{{state=\"pending\"}} {pending}");
            let _ = writeln!(out, "nhi_outbox_mails{{state=\"sent\"}} {sent}");
            let _ = writeln!(out, "nhi_outbox_mails{{state=\"failed\"}} {failed}");
        }
        out
    }
}
