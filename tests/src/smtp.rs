//! A real SMTP server (mailin-embedded) on a free local port that keeps
//! every message it receives, so tests can assert what the worker sent.
//! It can be taken down for a while ([`SmtpSink::go_down`]): its port is
//! closed, so connections are refused, and open sessions are cut.

use std::io;
use std::net::{IpAddr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

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
    /// The `Message-ID` header, without its angle brackets.
    pub fn message_id(&self) -> Option<String> {
        let parsed = mail_parser::MessageParser::default().parse(self.data.as_bytes())?;
        parsed.message_id().map(str::to_owned)
    }

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
    door: Door,
}

/// The public port: passes sessions through to the server while open;
/// closed, nothing listens on it.
#[derive(Clone)]
struct Door {
    port: u16,
    server_port: u16,
    state: Arc<Mutex<DoorState>>,
}

#[derive(Default)]
struct DoorState {
    open: bool,
    /// The client side of every session passed through, to cut them.
    sessions: Vec<TcpStream>,
    accepting: Option<JoinHandle<()>>,
}

impl Door {
    /// Listens on `listener`, passing every session through to the server.
    fn open(&self, listener: TcpListener) {
        let door = self.clone();
        let accepting = std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !door.pass_through(client) {
                    return;
                }
            }
        });
        if let Ok(mut state) = self.state.lock() {
            state.open = true;
            state.accepting = Some(accepting);
        }
    }

    /// Pipes `client` to the server; false once the door is closed.
    fn pass_through(&self, client: TcpStream) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        if !state.open {
            return false;
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", self.server_port)) else { return true };
        let (Ok(client_read), Ok(client_kept), Ok(server_write)) =
            (client.try_clone(), client.try_clone(), server.try_clone())
        else {
            return true;
        };
        state.sessions.push(client_kept);
        std::thread::spawn(move || pipe(client_read, server_write));
        std::thread::spawn(move || pipe(server, client));
        true
    }

    /// Closes the port and cuts every open session.
    fn close(&self) {
        let accepting = {
            let Ok(mut state) = self.state.lock() else { return };
            state.open = false;
            for session in state.sessions.drain(..) {
                session.shutdown(Shutdown::Both).ok();
            }
            state.accepting.take()
        };
        // Wakes the accepting thread, which sees the door closed and drops
        // the listener.
        TcpStream::connect(("127.0.0.1", self.port)).ok();
        if let Some(accepting) = accepting {
            accepting.join().ok();
        }
    }
}

/// Copies one direction of a session until either side ends it.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    io::copy(&mut from, &mut to).ok();
    to.shutdown(Shutdown::Both).ok();
    from.shutdown(Shutdown::Both).ok();
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
        let server_port = listener.local_addr().expect("local addr").port();
        let public = TcpListener::bind("127.0.0.1:0").expect("bind a local port for SMTP");
        let port = public.local_addr().expect("local addr").port();
        let door = Door { port, server_port, state: Arc::default() };
        door.open(public);
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
        Self { port, inbox, refused, door }
    }

    /// Takes the server down: its port refuses connections and open
    /// sessions are cut, until [`Self::come_up`].
    pub fn go_down(&self) {
        self.door.close();
    }

    /// Brings the server back on the same port.
    pub fn come_up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the SMTP port is free again");
        self.door.open(listener);
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
