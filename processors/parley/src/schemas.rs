//! `parley schemas register`: every Avro schema under `<prefix><topic>-value`.

use anyhow::anyhow;
use parley_core::topics::{Records, Topic};
use parley_runtime::codec::{schemas, RegistryClient};

/// Every Avro topic of the catalogue with its schema's file and text.
pub(crate) fn schemas() -> Vec<(Topic, &'static str, &'static str)> {
    Topic::all()
        .into_iter()
        .filter_map(|topic| match topic.records() {
            Records::Avro(record) => {
                let (file, text) = schemas::of_record(record)
                    .unwrap_or_else(|| panic!("no schema for the record {record} of {topic:?}"));
                Some((topic, file, text))
            }
            _ => None,
        })
        .collect()
}

/// Registers every schema, printing `subject: id N` or the registry's refusal (which
/// carries its compatibility message); fails if any was refused.
pub(crate) async fn register(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = RegistryClient::new(url);
    let mut refused = 0;
    for (topic, file, schema) in schemas() {
        let subject = format!("{}-value", topic.with_prefix(prefix));
        match client.register(&subject, schema).await {
            Ok(id) => println!("{subject}: id {id} ({file})"),
            Err(error) => {
                println!("{subject}: refused ({file}): {error}");
                refused += 1;
            }
        }
    }
    if refused == 0 {
        Ok(())
    } else {
        Err(anyhow!("{refused} schemas were not registered"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_avro_topic_has_the_schema_of_its_record() {
        let schemas = schemas();
        assert_eq!(
            schemas.len(),
            schemas::ALL.len(),
            "each schema is a topic's"
        );
        for (topic, file, text) in schemas {
            let Records::Avro(record) = topic.records() else {
                unreachable!("only Avro topics are listed")
            };
            let schema: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(schema["name"], record, "{file} is the schema of {topic:?}");
        }
    }
}
