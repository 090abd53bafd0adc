//! The HTTP endpoint: Prometheus exposition on `/metrics`, liveness on `/healthz`, and
//! readiness on `/readyz` (503 while a partition is still restoring).

use crate::metrics::Metrics;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
/// The HTTP status a route answers with.
pub use hyper::StatusCode;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves `/metrics`, `/healthz` and `/readyz` on `address` until the task is dropped.
/// Returns the bound address (useful with port 0) and the server task.
pub async fn serve_metrics(
    address: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve(address, move |path| match path {
        "/metrics" => Some((
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        )),
        "/healthz" => Some((StatusCode::OK, "text/plain", "ok\n".to_owned())),
        "/readyz" if metrics.restoring() => Some((
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "restoring\n".to_owned(),
        )),
        "/readyz" => Some((StatusCode::OK, "text/plain", "ready\n".to_owned())),
        _ => None,
    })
    .await
}

/// Serves GET requests with `route(path) -> Some((status, content type, body))`, 404
/// otherwise.
pub async fn serve<F>(
    address: SocketAddr,
    route: F,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)>
where
    F: Fn(&str) -> Option<(StatusCode, &'static str, String)> + Send + Sync + 'static,
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
