//! A minimal Confluent schema registry client: register a schema, fetch one by id.

use crate::error::RuntimeError;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// A client of the registry's REST API (plain HTTP).
#[derive(Clone, Debug)]
pub struct RegistryClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl RegistryClient {
    /// A client of the registry at `url` (`http://host:port`).
    pub fn new(url: &str) -> RegistryClient {
        RegistryClient {
            base: url.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<serde_json::Value, RuntimeError> {
        let uri = format!("{}{path}", self.base);
        let request = Request::builder()
            .method(method)
            .uri(&uri)
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| RuntimeError::Registry(format!("{uri}: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| RuntimeError::Registry(format!("{uri}: {e}")))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| RuntimeError::Registry(format!("{uri}: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(RuntimeError::Registry(format!(
                "{uri}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Registry(format!("{uri}: {e}")))
    }

    /// Registers `schema` under `subject` (idempotent) and returns its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RuntimeError> {
        let body = serde_json::json!({ "schema": schema }).to_string();
        let answer = self
            .call(
                Method::POST,
                &format!("/subjects/{subject}/versions"),
                Some(body),
            )
            .await?;
        answer["id"]
            .as_u64()
            .map(|id| id as u32)
            .ok_or_else(|| RuntimeError::Registry(format!("register {subject}: no id in {answer}")))
    }

    /// The schema text registered under `id`.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, RuntimeError> {
        let answer = self
            .call(Method::GET, &format!("/schemas/ids/{id}"), None)
            .await?;
        answer["schema"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RuntimeError::Registry(format!("schema {id}: no schema in {answer}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{AvroCodec, AvroRecord, WireFormat};
    use hyper::StatusCode;
    use parley_core::StatusChange;

    /// A registry that knows one schema, under id 5 for `<topic>-value` and id 9 by id.
    async fn fake_registry() -> (String, tokio::task::JoinHandle<()>) {
        let (address, task) =
            crate::http::serve("127.0.0.1:0".parse().unwrap(), |path| match path {
                "/subjects/parley.status-changes-value/versions" => {
                    Some((StatusCode::OK, "application/json", r#"{"id":5}"#.to_owned()))
                }
                "/schemas/ids/9" => Some((
                    StatusCode::OK,
                    "application/json",
                    serde_json::json!({ "schema": StatusChange::SCHEMA }).to_string(),
                )),
                _ => None,
            })
            .await
            .unwrap();
        (format!("http://{address}"), task)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registers_then_frames_with_the_id_and_fetches_unknown_writers() {
        let (url, server) = fake_registry().await;
        let client = RegistryClient::new(&url);
        let codec =
            AvroCodec::<StatusChange>::confluent(client.clone(), "parley.status-changes-value")
                .await
                .unwrap();
        assert_eq!(codec.format(), WireFormat::Confluent { schema_id: 5 });
        assert!(client.schema_by_id(404).await.is_err());
        // A record written with id 9 is decoded after fetching id 9 (from a plain thread).
        let single = AvroCodec::<StatusChange>::single_object();
        let sample: StatusChange = serde_json::from_value(sample_status_change()).unwrap();
        let body = &single.encode(&sample).unwrap()[10..];
        let mut framed = vec![0, 0, 0, 0, 9];
        framed.extend_from_slice(body);
        let decoded = std::thread::spawn(move || codec.decode(&framed))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(decoded, sample);
        server.abort();
    }

    fn sample_status_change() -> serde_json::Value {
        serde_json::json!({
            "change_id": "t-1/0", "ticket_id": "t-1", "account": "acme", "brand": null,
            "conversation": "c-1", "channel": "whatsapp", "style": "live_chat", "from": null,
            "to": "new", "actor_kind": "end_user", "actor_id": null, "reason": "end_user_message",
            "assignee": null, "predecessor_ticket_id": null, "at": 1_700_000_000_000i64
        })
    }
}
