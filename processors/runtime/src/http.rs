//! The HTTP endpoint: Prometheus exposition on `/metrics`, liveness on `/healthz`, readiness
//! on `/readyz` (503 while a partition is still restoring or the brokers do not answer the
//! host's metadata probe), and, for hosts that serve it, a
//! read-only look at one state entry on `/state/<percent-encoded state key>`; plus [`get`], the
//! small client that reads them.
//!
//! `/state/<key>` answers JSON, always with a trailing newline:
//!
//! - 200 `{"key", "partition", "state"}`: the entry as of the last committed batch that
//!   reached sled, rendered by the processor's [`RenderState`];
//! - 404 `{"error": "not_found", "key", "owned_partitions", "message"}`: no partition this
//!   instance owns holds the key (another instance of the group may own it);
//! - 503 `{"error": "restoring", "key", "restoring_partitions", "owned_partitions",
//!   "message"}`: not found in the restored partitions while others are still restoring;
//! - 400 `{"error": "bad_key", ...}` for an empty key or a bad `%` escape, 500
//!   `{"error": "unreadable", ...}` when sled or the renderer fails.

use crate::metrics::Metrics;
use crate::state::{Lookup, PartitionView, StateView};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::service::service_fn;
/// The HTTP status a route answers with.
pub use hyper::StatusCode;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The path prefix of the state endpoint.
pub const STATE_PATH: &str = "/state/";

/// A route's answer: status, content type, body.
pub type Answer = (StatusCode, &'static str, String);

/// Renders one state entry as JSON for `/state`: `(state key, stored value, the partition that
/// holds it)`. The partition view lets a renderer read related entries of the same partition.
/// An error is a message for people; the endpoint answers 500 with it.
pub type RenderState =
    dyn Fn(&[u8], &[u8], &PartitionView) -> Result<Value, String> + Send + Sync + 'static;

/// What `/state/<key>` reads (a host's [`StateView`]) and how it renders values.
#[derive(Clone)]
pub struct StateEndpoint {
    view: StateView,
    render: Arc<RenderState>,
}

impl std::fmt::Debug for StateEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateEndpoint")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl StateEndpoint {
    /// Serves `view` with values rendered by `render`.
    pub fn new(view: StateView, render: Arc<RenderState>) -> StateEndpoint {
        StateEndpoint { view, render }
    }

    /// The answer to `path` if it is a `/state/` path, `None` otherwise. Reads sled on the
    /// calling thread (a few point reads; never the processing loop's lock).
    pub fn answer(&self, path: &str) -> Option<Answer> {
        let encoded = path
            .strip_prefix(STATE_PATH)
            .or_else(|| (path == STATE_PATH.trim_end_matches('/')).then_some(""))?;
        let key = match percent_decode(encoded) {
            Ok(key) if !key.is_empty() => key,
            Ok(_) => {
                return Some(json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({
                        "error": "bad_key",
                        "key": "",
                        "message": "name a state key: GET /state/<percent-encoded key>, e.g. /state/acme%2Fconv-1",
                    }),
                ))
            }
            Err(rule) => {
                return Some(json_answer(
                    StatusCode::BAD_REQUEST,
                    json!({
                        "error": "bad_key",
                        "key": encoded,
                        "message": format!("state key {encoded:?}: {rule}"),
                    }),
                ))
            }
        };
        let shown = String::from_utf8_lossy(&key).into_owned();
        let unreadable = |message: String| {
            json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "unreadable", "key": shown, "message": message}),
            )
        };
        let lookup = match self.view.lookup(&key) {
            Ok(lookup) => lookup,
            Err(error) => return Some(unreadable(format!("the state store failed: {error}"))),
        };
        Some(match lookup {
            Lookup::Found { partition, value } => match (self.render)(&key, &value, &partition) {
                Ok(state) => json_answer(
                    StatusCode::OK,
                    json!({"key": shown, "partition": partition.partition(), "state": state}),
                ),
                Err(error) => unreadable(format!(
                    "state key {shown:?} in partition {}: {error}",
                    partition.partition()
                )),
            },
            Lookup::NotFound { owned } => {
                let message = if owned.is_empty() {
                    format!(
                        "no state for key {shown:?}: this instance owns no partition (it has not \
                         joined its group yet, or the group has more instances than partitions)"
                    )
                } else {
                    format!(
                        "no state for key {shown:?} in the partitions this instance owns ({}); \
                         another instance of the group may own the key's partition",
                        list(&owned)
                    )
                };
                json_answer(
                    StatusCode::NOT_FOUND,
                    json!({
                        "error": "not_found",
                        "key": shown,
                        "owned_partitions": owned,
                        "message": message,
                    }),
                )
            }
            Lookup::Restoring { restoring, owned } => {
                let message = format!(
                    "no state for key {shown:?} in the restored partitions, but partitions {} \
                     are still restoring from the changelog and may hold it: retry once /readyz \
                     answers 200",
                    list(&restoring)
                );
                json_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({
                        "error": "restoring",
                        "key": shown,
                        "restoring_partitions": restoring,
                        "owned_partitions": owned,
                        "message": message,
                    }),
                )
            }
        })
    }
}

fn list(partitions: &[i32]) -> String {
    partitions
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_answer(status: StatusCode, body: Value) -> Answer {
    let mut text = body.to_string();
    text.push('\n');
    (status, "application/json", text)
}

/// The default rendering of a state value: the value itself when it is JSON, a JSON string
/// when it is other UTF-8 text, and `{"hex": "..."}` otherwise.
pub fn render_raw(_key: &[u8], value: &[u8], _partition: &PartitionView) -> Result<Value, String> {
    if let Ok(json) = serde_json::from_slice::<Value>(value) {
        return Ok(json);
    }
    Ok(match std::str::from_utf8(value) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({"hex": value.iter().map(|b| format!("{b:02x}")).collect::<String>()}),
    })
}

/// The path of `state_key` on the state endpoint: `/state/` and the key with every byte
/// but `A-Z a-z 0-9 - . _ ~` percent-encoded (so `acme/c1` is `/state/acme%2Fc1`).
pub fn state_path(state_key: &[u8]) -> String {
    let mut path = String::with_capacity(STATE_PATH.len() + state_key.len() * 3);
    path.push_str(STATE_PATH);
    for byte in state_key {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(byte) {
            path.push(char::from(*byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path
}

/// Decodes `%XX` escapes; every other character stands for itself (so a key's `/` may be
/// sent plain or as `%2F`).
fn percent_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "bad escape at byte {i}: a `%` must be followed by two hex digits (a `%` \
                         in a key is written %25)"
                    )
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The answers of `/metrics`, `/healthz` and `/readyz`.
fn metrics_answer(metrics: &Metrics, path: &str) -> Option<Answer> {
    match path {
        "/metrics" => Some((
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        )),
        "/healthz" => Some((StatusCode::OK, "text/plain", "ok\n".to_owned())),
        "/readyz" => Some(match metrics.readiness() {
            Ok(reason) => (StatusCode::OK, "text/plain", format!("{reason}\n")),
            Err(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("{reason}\n"),
            ),
        }),
        _ => None,
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `address` until the task is dropped.
/// Returns the bound address (useful with port 0) and the server task.
pub async fn serve_metrics(
    address: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve(address, move |path| metrics_answer(&metrics, path)).await
}

/// Serves `/metrics`, `/healthz`, `/readyz` and `/state/<key>` on `address` until the task
/// is dropped. Returns the bound address and the server task.
pub async fn serve_metrics_and_state(
    address: SocketAddr,
    metrics: Arc<Metrics>,
    state: StateEndpoint,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve(address, move |path| {
        metrics_answer(&metrics, path).or_else(|| state.answer(path))
    })
    .await
}

/// GETs `path` from the HTTP/1.1 server at `address` (`host:port`, resolved), within
/// `timeout` for the whole exchange. Returns the status and the body (lossy UTF-8). An
/// unreachable address is the connect error (e.g. `ConnectionRefused`); running out of time
/// is `TimedOut`.
pub async fn get(
    address: &str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(StatusCode, String)> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(address).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        let driver = tokio::spawn(connection);
        let request = Request::get(path)
            .header("host", address)
            .header("accept", "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(std::io::Error::other)?;
        let result = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, String::from_utf8_lossy(&body).into_owned()))
        }
        .await;
        driver.abort();
        result.map_err(std::io::Error::other)
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} ms", timeout.as_millis()),
        )
    })?
}

/// Serves GET requests with `route(path) -> Some((status, content type, body))`, 404
/// otherwise.
pub async fn serve<F>(
    address: SocketAddr,
    route: F,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)>
where
    F: Fn(&str) -> Option<Answer> + Send + Sync + 'static,
{
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let route = Arc::new(route);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let route = route.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answer = route(request.uri().path());
                    async move {
                        let response = match answer {
                            Some((status, content_type, body)) => Response::builder()
                                .status(status)
                                .header("content-type", content_type)
                                .body(Full::new(Bytes::from(body))),
                            None => Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::new())),
                        };
                        Ok::<_, Infallible>(response.expect("static response parts are valid"))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ChangelogOp, PartitionMeta, StateStore};

    struct Fixture {
        view: StateView,
        store: Option<StateStore>,
        dir: std::path::PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            self.view.release_all();
            drop(self.store.take());
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A view owning partition 0 (restored, holding `entries`) and, if `restoring`, 1.
    fn fixture(entries: &[(&[u8], &[u8])], restoring: bool) -> Fixture {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("parley-http-{}-{nanos}", std::process::id()));
        let store = StateStore::open(&dir).unwrap().0;
        let partition = store.partition(0).unwrap();
        let ops: Vec<ChangelogOp> = entries
            .iter()
            .map(|(key, value)| ChangelogOp::State {
                key: key.to_vec(),
                value: Some(value.to_vec()),
            })
            .collect();
        let _ = partition.apply(&ops, &PartitionMeta::default()).unwrap();
        let view = StateView::new();
        view.set_ready(partition);
        if restoring {
            view.set_restoring(1);
        }
        Fixture {
            view,
            store: Some(store),
            dir,
        }
    }

    fn answer(endpoint: &StateEndpoint, path: &str) -> (StatusCode, Value) {
        let (status, content_type, body) = endpoint.answer(path).expect("a /state path");
        assert_eq!(content_type, "application/json");
        assert!(body.ends_with('\n'));
        (status, serde_json::from_str(&body).unwrap())
    }

    #[test]
    fn a_stored_entry_is_rendered_with_its_key_and_partition() {
        let f = fixture(
            &[(b"acme/c 1", b"{\"status\":\"open\"}"), (b"n", b"7")],
            false,
        );
        let endpoint = StateEndpoint::new(f.view.clone(), Arc::new(render_raw));
        let (status, body) = answer(&endpoint, &state_path(b"acme/c 1"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"key": "acme/c 1", "partition": 0, "state": {"status": "open"}})
        );
        // A plain `/` in the path is the key's own.
        let (status, body) = answer(&endpoint, "/state/acme/c%201");
        assert_eq!((status, &body["key"]), (StatusCode::OK, &json!("acme/c 1")));
        assert_eq!(answer(&endpoint, "/state/n").1["state"], json!(7));
        assert!(endpoint.answer("/metrics").is_none());
        assert!(endpoint.answer("/stateful").is_none());
    }

    #[test]
    fn a_missing_key_is_404_naming_the_owned_partitions_and_503_while_restoring() {
        let f = fixture(&[(b"acme/c1", b"1")], false);
        let endpoint = StateEndpoint::new(f.view.clone(), Arc::new(render_raw));
        let (status, body) = answer(&endpoint, "/state/acme%2Fc9");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not_found");
        assert_eq!(body["owned_partitions"], json!([0]));
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("\"acme/c9\"") && message.contains("owns (0)"),
            "{message}"
        );

        let f = fixture(&[(b"acme/c1", b"1")], true);
        let endpoint = StateEndpoint::new(f.view.clone(), Arc::new(render_raw));
        let (status, body) = answer(&endpoint, "/state/acme%2Fc9");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["restoring_partitions"], json!([1]));
        assert_eq!(body["owned_partitions"], json!([0, 1]));
        // A key in a restored partition is served even while another restores.
        assert_eq!(answer(&endpoint, "/state/acme%2Fc1").0, StatusCode::OK);

        let endpoint = StateEndpoint::new(StateView::new(), Arc::new(render_raw));
        let (status, body) = answer(&endpoint, "/state/acme%2Fc1");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("owns no partition"),
            "{body}"
        );
    }

    #[test]
    fn bad_keys_are_400_and_a_failing_renderer_is_500_with_its_message() {
        let f = fixture(&[(b"k", b"x")], false);
        let failing: Arc<RenderState> = Arc::new(|_, _, _| Err("not a ticket".to_owned()));
        let endpoint = StateEndpoint::new(f.view.clone(), failing);
        for path in ["/state/", "/state", "/state/a%2", "/state/%zz"] {
            let (status, body) = answer(&endpoint, path);
            assert_eq!(
                (status, &body["error"]),
                (StatusCode::BAD_REQUEST, &json!("bad_key"))
            );
        }
        let (status, body) = answer(&endpoint, "/state/k");
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body["message"],
            "state key \"k\" in partition 0: not a ticket"
        );
    }

    #[test]
    fn raw_values_render_as_json_text_or_hex() {
        let f = fixture(&[(b"k", b"")], false);
        let Lookup::Found { partition, .. } = f.view.lookup(b"k").unwrap() else {
            panic!("k is stored");
        };
        assert_eq!(render_raw(b"k", b"[1,2]", &partition), Ok(json!([1, 2])));
        assert_eq!(render_raw(b"k", b"open", &partition), Ok(json!("open")));
        assert_eq!(
            render_raw(b"k", &[0xff, 0x01], &partition),
            Ok(json!({"hex": "ff01"}))
        );
    }

    #[test]
    fn state_paths_round_trip_through_the_decoder() {
        let key = b"acme/c 1%/\xff~x";
        let path = state_path(key);
        assert_eq!(path, "/state/acme%2Fc%201%25%2F%FF~x");
        assert_eq!(
            percent_decode(path.strip_prefix(STATE_PATH).unwrap()).unwrap(),
            key
        );
    }

    #[tokio::test]
    async fn state_and_metrics_are_served_together_and_read_with_get() {
        let f = fixture(&[(b"acme/c1", b"{\"n\":1}")], false);
        let endpoint = StateEndpoint::new(f.view.clone(), Arc::new(render_raw));
        let metrics = Arc::new(Metrics::new());
        let (address, server) =
            serve_metrics_and_state("127.0.0.1:0".parse().unwrap(), metrics, endpoint)
                .await
                .unwrap();
        let address = address.to_string();
        let timeout = Duration::from_secs(10);
        let (status, body) = get(&address, &state_path(b"acme/c1"), timeout)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["state"],
            json!({"n": 1})
        );
        let (status, _) = get(&address, "/state/acme%2Fc2", timeout).await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = get(&address, "/healthz", timeout).await.unwrap();
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
        server.abort();

        // Nothing listens on a port just released.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = free.local_addr().unwrap().to_string();
        drop(free);
        let error = get(&closed, "/healthz", timeout).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
