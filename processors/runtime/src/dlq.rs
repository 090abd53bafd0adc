//! Dead-letter records: the original bytes with headers that say where they came from and why.

use crate::processor::{InputRecord, Output};

/// The stage at which a record was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DlqStage {
    /// The bytes could not be decoded.
    Decode,
    /// The processor rejected the decoded record.
    Process,
}

impl DlqStage {
    /// The header and label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            DlqStage::Decode => "decode",
            DlqStage::Process => "process",
        }
    }
}

/// Header names of DLQ records.
pub mod headers {
    /// The stage (`decode`, `process`).
    pub const STAGE: &str = "parley.dlq.stage";
    /// A short reason (metric label).
    pub const REASON: &str = "parley.dlq.reason";
    /// The error, for people.
    pub const ERROR: &str = "parley.dlq.error";
    /// The source topic.
    pub const TOPIC: &str = "parley.dlq.topic";
    /// The source partition, decimal.
    pub const PARTITION: &str = "parley.dlq.partition";
    /// The source offset, decimal.
    pub const OFFSET: &str = "parley.dlq.offset";
}

/// The DLQ record for `record`: same key and value, headers naming stage (a
/// [`DlqStage`]'s name, or a stateless processor's, such as `ingress`), reason, error and
/// source.
pub fn dead_letter(
    dlq_topic: &str,
    record: &InputRecord<'_>,
    stage: &str,
    reason: &str,
    error: &str,
) -> Output {
    Output {
        topic: dlq_topic.to_owned(),
        key: record.key.to_vec(),
        value: record.value.to_vec(),
        headers: vec![
            (headers::STAGE.to_owned(), stage.as_bytes().to_vec()),
            (headers::REASON.to_owned(), reason.as_bytes().to_vec()),
            (headers::ERROR.to_owned(), error.as_bytes().to_vec()),
            (headers::TOPIC.to_owned(), record.topic.as_bytes().to_vec()),
            (
                headers::PARTITION.to_owned(),
                record.partition.to_string().into_bytes(),
            ),
            (
                headers::OFFSET.to_owned(),
                record.offset.to_string().into_bytes(),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_keeps_bytes_and_names_the_source() {
        let record = InputRecord {
            topic: "parley.conversation-events",
            partition: 3,
            offset: 42,
            key: b"acme/1",
            value: b"\xff\xfe",
            timestamp: None,
        };
        let out = dead_letter(
            "parley.dlq",
            &record,
            DlqStage::Decode.as_str(),
            "bad-header",
            "not avro",
        );
        assert_eq!(out.topic, "parley.dlq");
        assert_eq!(out.key, b"acme/1");
        assert_eq!(out.value, b"\xff\xfe");
        let header = |name: &str| {
            out.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header(headers::STAGE), b"decode");
        assert_eq!(header(headers::ERROR), b"not avro");
        assert_eq!(header(headers::TOPIC), b"parley.conversation-events");
        assert_eq!(header(headers::PARTITION), b"3");
        assert_eq!(header(headers::OFFSET), b"42");
    }
}
