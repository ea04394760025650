//! A real SMTP server (mailin-embedded) on a free local port that keeps
//! every message it receives, so tests can assert what the worker sent.

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The raw message (headers and body).
    pub data: String,
}

impl Mail {
    /// The subject and text body as a reader sees them: MIME decoded
    /// (encoded words, quoted-printable or base64, any charset), lines
    /// ending in `\n`.
    pub fn read(&self) -> (String, String) {
        let parsed = mail_parser::MessageParser::default().parse(self.data.as_bytes());
        let subject = parsed.as_ref().and_then(|m| m.subject()).unwrap_or_default().to_owned();
        let body = parsed.as_ref().and_then(|m| m.body_text(0)).map(|b| b.replace("\r\n", "\n")).unwrap_or_default();
        (subject, body)
    }
}

/// The running server and what it received.
#[derive(Clone)]
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Collector {
    inbox: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<Mutex<Vec<String>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn rcpt(&mut self, to: &str) -> Response {
        let refused = self.refused.lock().map(|r| r.iter().any(|a| to.contains(a.as_str()))).unwrap_or(false);
        if refused { response::NO_MAILBOX } else { response::OK }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = Mail { to: std::mem::take(&mut self.to), data: String::from_utf8_lossy(&self.data).into_owned() };
        if let Ok(mut inbox) = self.inbox.lock() {
            inbox.push(mail);
        }
        response::OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }
}

impl SmtpSink {
    /// Starts the server on a free port in a background thread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port for SMTP");
        let port = listener.local_addr().expect("local addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let collector = Collector { inbox: inbox.clone(), refused: refused.clone(), to: Vec::new(), data: Vec::new() };
        let mut server = Server::new(collector);
        // One thread per open session: the worker's lettre pool keeps idle
        // sessions open, and with too few threads a further connection waits
        // unanswered until lettre's timeout (a job stalled for a minute).
        server.with_name("haat-tests.local").with_num_threads(32).with_tcp_listener(listener);
        if server.with_ssl(SslConfig::None).is_err() {
            panic!("SMTP server without TLS");
        }
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("test SMTP server stopped: {e}");
            }
        });
        Self { port, inbox, refused }
    }

    /// Refuses mail to `address` (550 at RCPT, a permanent failure) until
    /// [`Self::accept_all`].
    pub fn refuse(&self, address: &str) {
        if let Ok(mut r) = self.refused.lock() {
            r.push(address.to_owned());
        }
    }

    /// Accepts mail to every address again.
    pub fn accept_all(&self) {
        if let Ok(mut r) = self.refused.lock() {
            r.clear();
        }
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Mail> {
        self.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
