//! Serving the outer app on a TCP or a vsock listener: axum's router on
//! hyper's HTTP/1 server, with what `axum::serve` leaves out — a deadline
//! for a request's headers, so that a client trickling header bytes
//! (slowloris) loses its connection instead of holding it — and a graceful
//! shutdown that stops accepting, lets requests in flight finish and closes
//! idle connections.
//!
//! vsock is how an AWS Nitro Enclave talks to its parent instance: an
//! enclave has no network interface, so `veil serve --listen vsock:PORT`
//! listens there directly and the parent forwards TCP to it. vsock
//! listeners exist on Linux only; elsewhere binding one fails.
//!
//! ```no_run
//! # async fn demo(app: axum::Router) -> std::io::Result<()> {
//! use veil_server::listener::{ListenAddr, Listener, serve};
//! let address: ListenAddr = "vsock:5005".parse().map_err(std::io::Error::other)?;
//! let listener = Listener::bind(address).await?;
//! serve(listener, app, std::time::Duration::from_secs(30), std::future::pending()).await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// vsock's "any CID" (`VMADDR_CID_ANY`): listen on every context id this
/// machine has, which in an enclave is its own.
pub const VSOCK_CID_ANY: u32 = u32::MAX;

/// vsock's "any port" (`VMADDR_PORT_ANY`): the kernel picks a free port,
/// as TCP port 0 does.
pub const VSOCK_PORT_ANY: u32 = u32::MAX;

/// Where a server listens: written `HOST:PORT` (TCP, e.g. `127.0.0.1:8443`
/// or `[::]:8443`), `vsock:PORT` (vsock, any CID) or `vsock:CID:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListenAddr {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A vsock (AF_VSOCK) address.
    Vsock {
        /// Context id; [`VSOCK_CID_ANY`] for any.
        cid: u32,
        /// Port; [`VSOCK_PORT_ANY`] lets the kernel pick one.
        port: u32,
    },
}

impl ListenAddr {
    /// The address family, as logs name it: `"tcp"` or `"vsock"`.
    pub fn family(&self) -> &'static str {
        match self {
            ListenAddr::Tcp(_) => "tcp",
            ListenAddr::Vsock { .. } => "vsock",
        }
    }
}

impl From<SocketAddr> for ListenAddr {
    fn from(address: SocketAddr) -> Self {
        ListenAddr::Tcp(address)
    }
}

/// Written as it is parsed, so that it reads back the same: `vsock:PORT`
/// when the CID is any, else `vsock:CID:PORT`.
impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ListenAddr::Tcp(address) => address.fmt(f),
            ListenAddr::Vsock {
                cid: VSOCK_CID_ANY,
                port,
            } => write!(f, "vsock:{port}"),
            ListenAddr::Vsock { cid, port } => write!(f, "vsock:{cid}:{port}"),
        }
    }
}

/// Why a listen address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenAddrError {
    /// Neither `vsock:…` nor a TCP socket address.
    #[error(
        "`{0}` is not a listen address: expected HOST:PORT with an IP address \
         (e.g. 127.0.0.1:8443 or [::]:8443), vsock:PORT or vsock:CID:PORT"
    )]
    Tcp(String),
    /// `vsock:` followed by nothing, or by more than `CID:PORT`.
    #[error("`{0}` is not a vsock address: expected vsock:PORT or vsock:CID:PORT")]
    VsockForm(String),
    /// The CID is not a decimal number that fits 32 bits.
    #[error("vsock CID must be 0..=4294967295, got `{0}`")]
    VsockCid(String),
    /// The port is not a decimal number that fits 32 bits.
    #[error("vsock port must be 0..=4294967295, got `{0}`")]
    VsockPort(String),
}

impl FromStr for ListenAddr {
    type Err = ListenAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(vsock) = s.strip_prefix("vsock:") else {
            return s
                .parse::<SocketAddr>()
                .map(ListenAddr::Tcp)
                .map_err(|_| ListenAddrError::Tcp(s.to_owned()));
        };
        let parts: Vec<&str> = vsock.split(':').collect();
        let (cid, port) = match parts[..] {
            [port] if !port.is_empty() => (None, port),
            [cid, port] => (Some(cid), port),
            _ => return Err(ListenAddrError::VsockForm(s.to_owned())),
        };
        // `u32::from_str` takes a leading `+`; an address should not.
        let number = |text: &str| {
            text.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| text.parse::<u32>().ok())
                .flatten()
        };
        let cid = match cid {
            None => VSOCK_CID_ANY,
            Some(cid) => number(cid).ok_or_else(|| ListenAddrError::VsockCid(cid.to_owned()))?,
        };
        let port = number(port).ok_or_else(|| ListenAddrError::VsockPort(port.to_owned()))?;
        Ok(ListenAddr::Vsock { cid, port })
    }
}

/// A string, as on the command line (`listen = "vsock:5005"`).
impl Serialize for ListenAddr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A bound listener, TCP or vsock, for [`serve`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A vsock listener (Linux only).
    #[cfg(target_os = "linux")]
    Vsock(tokio_vsock::VsockListener),
}

/// An accepted connection of a [`Listener`].
enum Connection {
    Tcp(TcpStream),
    #[cfg(target_os = "linux")]
    Vsock(tokio_vsock::VsockStream),
}

impl Listener {
    /// Binds `address`. Binding vsock needs the kernel's vsock support
    /// (`/dev/vsock`); on other systems than Linux it fails as unsupported.
    pub async fn bind(address: ListenAddr) -> std::io::Result<Self> {
        match address {
            ListenAddr::Tcp(address) => Ok(Listener::Tcp(TcpListener::bind(address).await?)),
            #[cfg(target_os = "linux")]
            ListenAddr::Vsock { cid, port } => Ok(Listener::Vsock(
                tokio_vsock::VsockListener::bind(tokio_vsock::VsockAddr::new(cid, port))?,
            )),
            #[cfg(not(target_os = "linux"))]
            ListenAddr::Vsock { .. } => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "vsock listeners are built on Linux only",
            )),
        }
    }

    /// The address it is bound to, with the port the kernel picked if it
    /// was asked for any.
    pub fn local_addr(&self) -> std::io::Result<ListenAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().map(ListenAddr::Tcp),
            #[cfg(target_os = "linux")]
            Listener::Vsock(listener) => listener.local_addr().map(|a| ListenAddr::Vsock {
                cid: a.cid(),
                port: a.port(),
            }),
        }
    }

    async fn accept(&self) -> std::io::Result<Connection> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                // Responses go out as soon as they are written: without it,
                // the tail of a large response can wait for the client's
                // delayed ACK (Nagle's algorithm).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
                Ok(Connection::Tcp(stream))
            }
            #[cfg(target_os = "linux")]
            Listener::Vsock(listener) => Ok(Connection::Vsock(listener.accept().await?.0)),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Listener::Tcp(listener)
    }
}

/// Serves `app` on `listener` (a [`Listener`], or a [`TcpListener`]) until
/// `shutdown` completes, then waits for the connections' requests in flight
/// (idle keep-alive connections close at once).
///
/// A connection that has not sent a whole request head within
/// `header_read_timeout` of starting one is closed.
pub async fn serve(
    listener: impl Into<Listener>,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let listener = listener.into();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let connection = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving
                    // the connections there are, and try again shortly.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match connection {
            Connection::Tcp(stream) => {
                spawn_connection(stream, &app, header_read_timeout, &graceful)
            }
            #[cfg(target_os = "linux")]
            Connection::Vsock(stream) => {
                spawn_connection(stream, &app, header_read_timeout, &graceful)
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves HTTP/1 on one accepted connection, watched by `graceful`.
fn spawn_connection<S>(
    stream: S,
    app: &Router,
    header_read_timeout: Duration,
    graceful: &GracefulShutdown,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(
        app.clone()
            .map_request(|req: Request<Incoming>| req.map(Body::new)),
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            // Timeouts and resets by clients are routine: not an error of ours.
            tracing::debug!(error = %e, "connection closed with an error");
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ListenAddr, ListenAddrError> {
        s.parse()
    }

    #[test]
    fn parses_tcp_addresses() {
        assert_eq!(
            parse("127.0.0.1:8443").unwrap(),
            ListenAddr::Tcp("127.0.0.1:8443".parse().unwrap())
        );
        assert_eq!(
            parse("[::]:0").unwrap(),
            ListenAddr::Tcp("[::]:0".parse().unwrap())
        );
        assert_eq!(parse("[::1]:80").unwrap().family(), "tcp");
    }

    #[test]
    fn parses_vsock_port_with_any_cid_and_cid_port() {
        assert_eq!(
            parse("vsock:5005").unwrap(),
            ListenAddr::Vsock {
                cid: VSOCK_CID_ANY,
                port: 5005
            }
        );
        assert_eq!(
            parse("vsock:3:5005").unwrap(),
            ListenAddr::Vsock { cid: 3, port: 5005 }
        );
        assert_eq!(
            parse("vsock:0:4294967295").unwrap(),
            ListenAddr::Vsock {
                cid: 0,
                port: VSOCK_PORT_ANY
            }
        );
        assert_eq!(parse("vsock:5005").unwrap().family(), "vsock");
    }

    #[test]
    fn displays_what_parses_back_to_the_same_address() {
        for text in ["127.0.0.1:8443", "[::1]:9", "vsock:5005", "vsock:16:1"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        // The explicit any-CID is written in the short form.
        assert_eq!(parse("vsock:4294967295:7").unwrap().to_string(), "vsock:7");
    }

    #[test]
    fn refuses_a_vsock_port_beyond_32_bits_naming_the_range() {
        let err = parse("vsock:4294967296").unwrap_err();
        assert_eq!(err, ListenAddrError::VsockPort("4294967296".into()));
        assert_eq!(
            err.to_string(),
            "vsock port must be 0..=4294967295, got `4294967296`"
        );
        for port in ["-1", "+5", "http", "5 ", ""] {
            assert_eq!(
                parse(&format!("vsock:3:{port}")).unwrap_err(),
                ListenAddrError::VsockPort(port.into()),
                "{port:?}"
            );
        }
    }

    #[test]
    fn refuses_a_bad_vsock_cid_naming_the_range() {
        let err = parse("vsock:x:5005").unwrap_err();
        assert_eq!(err.to_string(), "vsock CID must be 0..=4294967295, got `x`");
        assert_eq!(
            parse("vsock:99999999999:1").unwrap_err(),
            ListenAddrError::VsockCid("99999999999".into())
        );
    }

    #[test]
    fn refuses_vsock_without_a_port_or_with_too_many_parts() {
        for text in ["vsock:", "vsock:1:2:3"] {
            assert_eq!(
                parse(text).unwrap_err(),
                ListenAddrError::VsockForm(text.into())
            );
        }
    }

    #[test]
    fn refuses_a_hostname_or_a_missing_port_as_tcp() {
        for text in ["localhost:8443", "127.0.0.1", "VSOCK:5005", ""] {
            let err = parse(text).unwrap_err();
            assert_eq!(err, ListenAddrError::Tcp(text.into()));
            assert!(err.to_string().contains("vsock:PORT"), "{err}");
        }
    }

    #[test]
    fn serde_reads_and_writes_the_string_form() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Config {
            listen: ListenAddr,
        }
        let config: Config = serde_json::from_str(r#"{"listen":"vsock:2:80"}"#).unwrap();
        assert_eq!(config.listen, ListenAddr::Vsock { cid: 2, port: 80 });
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"listen":"vsock:2:80"}"#
        );
        let err = serde_json::from_str::<Config>(r#"{"listen":"vsock:99999999999"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("vsock port must be 0..=4294967295"), "{err}");
    }

    /// The generic path with TCP: a request over a bound [`Listener`] is
    /// answered by the app, and shutdown ends `serve`.
    #[tokio::test]
    async fn serves_the_app_over_a_bound_tcp_listener_until_shutdown() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let ListenAddr::Tcp(address) = listener.local_addr().unwrap() else {
            panic!("a TCP listener reports a TCP address");
        };
        let app = Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, Duration::from_secs(5), async {
            let _ = stopped.await;
        }));
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\npong"), "{response}");
        stop.send(()).unwrap();
        server.await.unwrap();
        // The listener is closed: a new connection is refused.
        assert!(TcpStream::connect(address).await.is_err());
    }

    /// Binds a vsock listener with the kernel picking the port. This VM has
    /// vsock support (/dev/vsock) but cannot connect to itself (no
    /// vsock_loopback), so this tests binding, not a request.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn binds_a_vsock_listener_on_any_cid_and_a_kernel_picked_port() {
        let listener = Listener::bind(ListenAddr::Vsock {
            cid: VSOCK_CID_ANY,
            port: VSOCK_PORT_ANY,
        })
        .await
        .unwrap_or_else(|e| {
            panic!(
                "binding vsock failed ({e}): this test needs the kernel's vsock support \
                 (/dev/vsock exists: {})",
                std::path::Path::new("/dev/vsock").exists()
            )
        });
        let ListenAddr::Vsock { cid, port } = listener.local_addr().unwrap() else {
            panic!("a vsock listener reports a vsock address");
        };
        assert_eq!(cid, VSOCK_CID_ANY);
        assert_ne!(port, VSOCK_PORT_ANY, "the kernel picks a port");
    }
}
