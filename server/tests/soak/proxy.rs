//! A loopback HTTP fault proxy between the server and moto (S3 + KMS) and between
//! the clients and the presigned S3 URLs.
//!
//! The server's `--endpoint-url` names this proxy, so the presigned URLs it hands
//! out name it too (and absolute-form requests, as sent to a forward proxy, are
//! accepted as well). Each connection carries exactly one request: the proxy reads
//! the request head, decides whether to inject a fault, and otherwise forwards the
//! request to moto with `Connection: close` on both sides, copying bodies as they
//! are. No hooks in the product: the faults are what a real network or a real
//! S3/KMS would answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Largest request or response head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy saw and did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Requests received (all kinds).
    pub requests: AtomicU64,
    /// Multipart part uploads (`PUT …?partNumber=`).
    pub part_puts: AtomicU64,
    /// Part uploads answered with an injected 503 `SlowDown`.
    pub part_puts_refused: AtomicU64,
    /// KMS calls (`X-Amz-Target: TrentService.*`).
    pub kms_calls: AtomicU64,
    /// KMS calls failed on purpose while the key service was "down".
    pub kms_failed: AtomicU64,
    /// Requests that could not be forwarded (a side hung up, moto unreachable):
    /// when, and why.
    pub forward_errors: Mutex<Vec<(Instant, String)>>,
}

/// How KMS fails while it is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsFault {
    /// Errors: 500 `KMSInternalException`, 400 `ThrottlingException`, a bare 503,
    /// a connection closed without an answer (in turn).
    Errors,
    /// A black hole: the request is read and never answered (until KMS is back,
    /// when the connection is closed).
    Hang,
}

/// Switches of the faults.
#[derive(Debug)]
pub struct Faults {
    /// Every n-th part upload is refused (0 = never).
    pub refuse_every_nth_part: u64,
    /// While true, every KMS call fails.
    pub kms_down: AtomicBool,
    /// How.
    pub kms_fault: KmsFault,
}

/// A running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Counters.
    pub stats: Arc<ProxyStats>,
    /// Fault switches.
    pub faults: Arc<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`.
    pub async fn start(
        upstream: SocketAddr,
        refuse_every_nth_part: u64,
        kms_fault: KmsFault,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ProxyStats::default());
        let faults = Arc::new(Faults {
            refuse_every_nth_part,
            kms_down: AtomicBool::new(false),
            kms_fault,
        });
        let (s, f) = (Arc::clone(&stats), Arc::clone(&faults));
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let (s, f) = (Arc::clone(&s), Arc::clone(&f));
                tokio::spawn(async move {
                    if let Err(e) = handle(conn, upstream, &s, &f).await {
                        s.forward_errors
                            .lock()
                            .unwrap()
                            .push((Instant::now(), e.to_string()));
                    }
                });
            }
        });
        Self {
            addr,
            stats,
            faults,
            task,
        }
    }

    /// The proxy as an endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A parsed request or response head.
struct Head {
    /// Request line or status line.
    first: String,
    /// Header lines, as received.
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The head with `Connection: close` (and without hop-by-hop headers that
    /// would contradict it), ready to send.
    fn encode_closing(&self, first: &str) -> Vec<u8> {
        let mut out = format!("{first}\r\n");
        for (k, v) in &self.headers {
            let hop = ["connection", "keep-alive", "proxy-connection", "expect"]
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h));
            if !hop {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str("connection: close\r\n\r\n");
        out.into_bytes()
    }
}

/// Reads a head (up to the blank line); returns it and the bytes read past it.
async fn read_head<R: AsyncRead + Unpin>(conn: &mut R) -> std::io::Result<Option<(Head, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = text.split("\r\n");
            let first = lines.next().unwrap_or_default().to_owned();
            let headers = lines
                .filter_map(|l| {
                    l.split_once(':')
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                })
                .collect();
            let rest = buf[end + 4..].to_vec();
            return Ok(Some((Head { first, headers }, rest)));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        let n = conn.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// Reads and drops the rest of a request body of `Content-Length` bytes, so that an
/// early answer is not lost to a TCP reset.
async fn drain_body(conn: &mut TcpStream, head: &Head, already: usize) -> std::io::Result<()> {
    let total: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut left = total.saturating_sub(already);
    let mut tmp = vec![0u8; 64 * 1024];
    while left > 0 {
        let n = conn.read(&mut tmp[..left.min(64 * 1024)]).await?;
        if n == 0 {
            break;
        }
        left -= n;
    }
    Ok(())
}

async fn answer(
    conn: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(resp.as_bytes()).await?;
    conn.shutdown().await
}

/// Fails a KMS call, rotating through what a failing KMS (or the network to it)
/// does: an internal error, throttling, a bare 503 from a load balancer, and a
/// connection closed without an answer.
async fn fail_kms(conn: &mut TcpStream, n: u64) -> std::io::Result<()> {
    const JSON: &str = "application/x-amz-json-1.1";
    match n % 4 {
        0 => {
            answer(
                conn,
                "500 Internal Server Error",
                JSON,
                r#"{"__type":"KMSInternalException","message":"soak: injected KMS failure"}"#,
            )
            .await
        }
        1 => {
            answer(
                conn,
                "400 Bad Request",
                JSON,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )
            .await
        }
        2 => answer(conn, "503 Service Unavailable", "text/plain", "").await,
        _ => conn.shutdown().await,
    }
}

async fn handle(
    mut client: TcpStream,
    upstream: SocketAddr,
    stats: &ProxyStats,
    faults: &Faults,
) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let mut words = head.first.split(' ');
    let method = words.next().unwrap_or_default().to_owned();
    let mut target = words.next().unwrap_or_default().to_owned();
    let version = words.next().unwrap_or("HTTP/1.1").to_owned();
    // Absolute form (a client using us as a forward proxy): keep only the path.
    if let Some(after) = target.strip_prefix("http://") {
        target = after
            .find('/')
            .map_or_else(|| "/".to_owned(), |i| after[i..].to_owned());
    }

    let is_kms = head
        .header("x-amz-target")
        .is_some_and(|t| t.starts_with("TrentService."));
    if is_kms {
        let n = stats.kms_calls.fetch_add(1, Ordering::Relaxed);
        if faults.kms_down.load(Ordering::Relaxed) {
            stats.kms_failed.fetch_add(1, Ordering::Relaxed);
            drain_body(&mut client, &head, rest.len()).await?;
            if faults.kms_fault == KmsFault::Hang {
                while faults.kms_down.load(Ordering::Relaxed) {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                return Ok(());
            }
            return fail_kms(&mut client, n).await;
        }
    }
    let is_part_put = method == "PUT" && target.contains("partNumber=");
    if is_part_put {
        let n = stats.part_puts.fetch_add(1, Ordering::Relaxed) + 1;
        let every = faults.refuse_every_nth_part;
        if every > 0 && n.is_multiple_of(every) {
            stats.part_puts_refused.fetch_add(1, Ordering::Relaxed);
            drain_body(&mut client, &head, rest.len()).await?;
            return answer(
                &mut client,
                "503 Slow Down",
                "application/xml",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                 <Message>Please reduce your request rate.</Message></Error>",
            )
            .await;
        }
    }

    let mut moto = TcpStream::connect(upstream).await?;
    moto.write_all(&head.encode_closing(&format!("{method} {target} {version}")))
        .await?;
    moto.write_all(&rest).await?;
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut moto_rd, mut moto_wr) = moto.into_split();
    // Request body: copied until the client stops sending (it may keep its side
    // open; the copy is dropped when the response is through).
    let upload = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rd, &mut moto_wr).await;
    });
    let result = async {
        let Some((resp, body_start)) = read_head(&mut moto_rd).await? else {
            return Err(std::io::Error::other("moto closed without an answer"));
        };
        let first = resp.first.clone();
        client_wr.write_all(&resp.encode_closing(&first)).await?;
        client_wr.write_all(&body_start).await?;
        tokio::io::copy(&mut moto_rd, &mut client_wr).await?;
        client_wr.shutdown().await
    }
    .await;
    upload.abort();
    result
}
