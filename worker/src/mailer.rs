//! Email delivery through lettre: SMTP when `HAAT_SMTP_URL` is set, else
//! `.eml` files in the outbox folder so the system runs with nothing set up.

use anyhow::{Context, Result};
use haat_domain::notifications::Pending;
use haat_platform::settings::Settings;
use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// A real SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder.
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

/// A mailer plus the sender address.
#[derive(Clone)]
pub struct Sender {
    mailer: Mailer,
    from: Mailbox,
}

impl Sender {
    /// Builds the transport the settings ask for.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        let from: Mailbox = s.mail_from.parse().context("HAAT_MAIL_FROM is not a valid mailbox")?;
        let mailer = match &s.smtp_url {
            Some(url) => Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("HAAT_SMTP_URL is not a valid smtp:// or smtps:// URL")?
                    // A server that accepts but never answers fails the attempt
                    // (to be retried) instead of holding a job slot for lettre's
                    // default minute.
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&s.outbox_dir)
                    .with_context(|| format!("creating the outbox folder {}", s.outbox_dir.display()))?;
                Mailer::Outbox(AsyncFileTransport::<Tokio1Executor>::new(&s.outbox_dir))
            }
        };
        Ok(Self { mailer, from })
    }

    /// Sends one email. No database transaction is open while this runs.
    pub async fn send(&self, email: &Pending) -> Result<()> {
        let to: Mailbox = email.to_email.parse().context("recipient address")?;
        // One Message-ID per email row: a resend after a crash between the
        // send and its mark carries the same id, so mail systems and readers
        // can tell it is the same message.
        let message_id = format!("<{}@{}>", email.id, self.from.email.domain());
        let message = Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .context("building the message")?;
        match &self.mailer {
            Mailer::Smtp(t) => {
                t.send(message).await.context("SMTP send")?;
            }
            Mailer::Outbox(t) => {
                t.send(message).await.context("writing to the outbox")?;
            }
        }
        Ok(())
    }
}
