//! Mail delivery. The outbox worker hands each mail to a [`Mailer`]; delivering the same
//! outbox entry twice must not produce two mails where the transport allows it: the file
//! mailer names the file after the outbox id (a retry overwrites it), and every message has a
//! stable `Message-ID` so receiving systems can drop a duplicate SMTP delivery.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Builds the MIME message: multipart/alternative, text first, then HTML.
pub fn build_message(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| MailError::Address(mail.to.clone()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .header(header::MIME_VERSION_1_0)
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError::Build(e.to_string()))
}

pub fn parse_from(from: &str) -> Result<Mailbox, MailError> {
    from.parse()
        .map_err(|_| MailError::Address(from.to_owned()))
}

/// Writes `{dir}/{outbox id}-{kind}.eml` (atomically, via a temporary file).
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
        let bytes = build_message(&self.from, mail)?.formatted();
        let path = self.path_for(mail);
        let tmp = self.dir.join(format!(".{:08}.tmp", mail.outbox_id));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }
}

/// SMTP through lettre. The whole send is bounded by `timeout` (lettre's own covers only I/O
/// steps). No TLS support is compiled in: relay to a local MTA.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl SmtpMailer {
    pub fn new(
        host: &str,
        port: u16,
        credentials: Option<(String, String)>,
        from: Mailbox,
        timeout: Duration,
    ) -> Self {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Self {
            transport: builder.build(),
            from,
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = build_message(&self.from, mail)?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(MailError::Smtp(e.to_string())),
            Err(_) => Err(MailError::Timeout(self.timeout)),
        }
    }
}
