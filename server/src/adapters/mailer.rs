//! Mail delivery. The outbox worker hands each mail to a [`Mailer`]; delivering the same
//! outbox entry twice must not produce two mails where the transport allows it: the file
//! mailer names the file after the outbox id (a retry overwrites it), and every message has a
//! stable `Message-ID` so receiving systems can drop a duplicate SMTP delivery.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use crate::adapters::tls::{
    error_chain, is_loopback_host, is_tls_error, TrustRoots, TrustSettings,
};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("cannot write the mail file: {0}")]
    Io(#[from] std::io::Error),
    #[error("SMTP: {0}")]
    Smtp(String),
    /// The TLS handshake with the mail server failed (unknown issuer, name mismatch…).
    #[error("SMTP TLS: {0}")]
    Tls(String),
    /// The SMTP mailer cannot be built from its settings.
    #[error("the SMTP mailer cannot be set up: {0}")]
    Setup(String),
    #[error("the mail server did not answer within {0:?}")]
    Timeout(Duration),
}

/// A mail ready to go.
#[derive(Debug, Clone)]
pub struct Mail {
    pub outbox_id: i64,
    pub message_id: String,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Files attached to the mail (the bulk upload result file).
    pub attachments: Vec<MailAttachment>,
}

/// A file attached to a mail.
#[derive(Debug, Clone)]
pub struct MailAttachment {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Builds the MIME message: multipart/alternative, text first, then HTML (plain text only
/// when the HTML is empty), in multipart/mixed with the attachments if there are any.
pub fn build_message(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| MailError::Address(mail.to.clone()))?;
    let alternative = if mail.html.is_empty() {
        MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone()))
    } else {
        MultiPart::alternative()
            .singlepart(SinglePart::plain(mail.text.clone()))
            .singlepart(SinglePart::html(mail.html.clone()))
    };
    let body = if mail.attachments.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &mail.attachments {
            let content_type = header::ContentType::parse(&a.content_type)
                .map_err(|e| MailError::Build(e.to_string()))?;
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(a.file_name.clone())
                    .body(a.content.clone(), content_type),
            );
        }
        mixed
    };
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .header(header::MIME_VERSION_1_0)
        .multipart(body)
        .map_err(|e| MailError::Build(e.to_string()))
}

pub fn parse_from(from: &str) -> Result<Mailbox, MailError> {
    from.parse()
        .map_err(|_| MailError::Address(from.to_owned()))
}

/// Writes `{dir}/{outbox id}-{kind}.eml` (the MIME message, for any mail client) and next to it
/// `….txt` (recipient, subject and the plain-text body, readable in a terminal), each
/// atomically via a temporary file. Re-delivering an outbox entry overwrites the same files.
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(dir: PathBuf, from: Mailbox) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, from })
    }

    pub fn path_for(&self, mail: &Mail) -> PathBuf {
        self.dir
            .join(format!("{:08}-{}.eml", mail.outbox_id, mail.kind))
    }
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let eml = build_message(&self.from, mail)?.formatted();
        let txt = format!(
            "To: {}\nSubject: {}\nMessage-ID: {}\n\n{}",
            mail.to, mail.subject, mail.message_id, mail.text
        );
        let path = self.path_for(mail);
        write_atomically(&self.dir, &path, &eml).await?;
        write_atomically(&self.dir, &path.with_extension("txt"), txt.as_bytes()).await
    }
}

async fn write_atomically(
    dir: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(), MailError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(())
}

/// How the SMTP connection is protected (`smtp_tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain SMTP, then `STARTTLS` before anything else is sent (RFC 3207), usually port 587
    /// or 25. A server that does not offer STARTTLS is an error: no fallback to plaintext.
    Starttls,
    /// TLS from the first byte (SMTPS, RFC 8314), usually port 465.
    Implicit,
    /// Plaintext: only to a loopback relay (a local MTA) and never with credentials.
    None,
}

/// Everything the SMTP mailer needs.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// The roots the server certificate is verified against (not used with [`SmtpTls::None`]).
    pub trust: TrustSettings,
    /// User name and password (AUTH PLAIN/LOGIN), only over TLS.
    pub credentials: Option<(String, String)>,
    pub from: Mailbox,
    pub timeout: Duration,
}

/// SMTP through lettre with rustls. The whole send is bounded by `timeout` (lettre's own
/// covers only I/O steps). The certificate must chain to the configured roots and name
/// `host` (a DNS name or an IP address SAN).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl SmtpMailer {
    /// Refuses (as the configuration does) plaintext to a host that is not loopback, and
    /// credentials without TLS.
    pub fn new(settings: SmtpSettings) -> Result<Self, MailError> {
        let SmtpSettings {
            host,
            port,
            tls,
            trust,
            credentials,
            from,
            timeout,
        } = settings;
        let tls = match tls {
            SmtpTls::None => {
                if !is_loopback_host(&host) {
                    return Err(MailError::Setup(format!(
                        "plaintext SMTP to {host:?}, which is not a loopback host"
                    )));
                }
                if credentials.is_some() {
                    return Err(MailError::Setup(
                        "SMTP credentials are never sent without TLS".into(),
                    ));
                }
                Tls::None
            }
            SmtpTls::Starttls => Tls::Required(tls_parameters(&host, &trust)?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters(&host, &trust)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            timeout,
        })
    }
}

/// Verification against `trust` only (lettre's own default store is not used), host-name
/// verification on, TLS 1.2 minimum.
fn tls_parameters(host: &str, trust: &TrustSettings) -> Result<TlsParameters, MailError> {
    let roots = TrustRoots::load(trust).map_err(|e| MailError::Setup(e.to_string()))?;
    let mut builder =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::None);
    for der in roots.certificates() {
        let cert =
            Certificate::from_der(der.to_vec()).map_err(|e| MailError::Setup(error_chain(&e)))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| MailError::Setup(error_chain(&e)))
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = build_message(&self.from, mail)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_tls() || is_tls_error(&e) => Err(MailError::Tls(error_chain(&e))),
            Ok(Err(e)) => Err(MailError::Smtp(error_chain(&e))),
            Err(_) => Err(MailError::Timeout(self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Mail {
        let long_zh = "您已申請健保卡網路服務註冊。請於期限前開啟下列連結「進入電子信箱認證畫面」，插入健保卡並按「讀取」完成認證：";
        Mail {
            outbox_id: 7,
            message_id: "<x.activation@nhi-registration>".into(),
            kind: "activation".into(),
            to: "wang@example.com".into(),
            subject: "健保卡網路服務註冊 / NHI".into(),
            text: format!(
                "王○明 您好：\n{long_zh}\nhttp://localhost:8080/confirm?ticket=abc_DEF-123\n"
            ),
            html: format!("<p>王○明 您好</p><p>{long_zh}</p>"),
            attachments: Vec::new(),
        }
    }

    #[tokio::test]
    async fn file_mails_are_readable_and_idempotent() {
        let dir = tempfile::tempdir().expect("dir");
        let from = parse_from("NHI <no-reply@nhi.localhost>").expect("from");
        let m = FileMailer::new(dir.path().to_owned(), from).expect("mailer");
        m.send(&mail()).await.expect("send");
        m.send(&mail()).await.expect("send again");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["00000007-activation.eml", "00000007-activation.txt"]
        );
        let eml = std::fs::read_to_string(m.path_for(&mail())).expect("eml");
        assert!(eml.contains("Message-ID: <x.activation@nhi-registration>"));
        assert!(eml.contains("multipart/alternative"));
        let txt = std::fs::read_to_string(m.path_for(&mail()).with_extension("txt")).expect("txt");
        assert!(
            txt.contains("http://localhost:8080/confirm?ticket=abc_DEF-123"),
            "{txt}"
        );
        assert!(txt.contains("To: wang@example.com") && txt.contains("王○明 您好"));
    }
}
