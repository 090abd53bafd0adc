//! The Parsing Canonical Form of an Avro schema and its CRC-64-AVRO fingerprint, as the
//! Avro specification defines them ("Parsing Canonical Form for Schemas", "Schema
//! Fingerprints"): what the single-object encoding's header carries, so that the Java
//! library, fastavro and every other implementation of the specification agree on it.
//!
//! The form keeps what parsing needs and nothing else: primitives as their bare names (a
//! `long` with a `timestamp-millis` logical type is `"long"`), named types by full name,
//! only `name`, `type`, `fields`, `symbols`, `items`, `values` and `size`, in that order,
//! and no whitespace.

use serde_json::{Map, Value};

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// The Parsing Canonical Form of the schema in `text`, or why `text` is not a schema.
pub fn parsing_canonical_form(text: &str) -> Result<String, String> {
    let schema: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    write_schema(&schema, "", &mut out)?;
    Ok(out)
}

/// The CRC-64-AVRO (Rabin) fingerprint of `bytes`.
pub fn crc64_avro(bytes: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u64; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut fp = i as u64;
            for _ in 0..8 {
                fp = (fp >> 1) ^ (EMPTY & (fp & 1).wrapping_neg());
            }
            *entry = fp;
        }
        table
    });
    bytes.iter().fold(EMPTY, |fp, byte| {
        (fp >> 8) ^ table[((fp ^ u64::from(*byte)) & 0xff) as usize]
    })
}

/// The fingerprint of the schema in `text` as the single-object header carries it: the
/// CRC-64-AVRO of its Parsing Canonical Form, little-endian.
pub fn single_object_fingerprint(text: &str) -> Result<[u8; 8], String> {
    Ok(crc64_avro(parsing_canonical_form(text)?.as_bytes()).to_le_bytes())
}

/// The full name of `name` declared in `namespace` (a name with a dot is already full).
fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}.{name}")
    }
}

fn string(value: &str, out: &mut String) {
    out.push_str(&Value::String(value.to_owned()).to_string());
}

fn write_schema(schema: &Value, namespace: &str, out: &mut String) -> Result<(), String> {
    match schema {
        Value::String(name) if PRIMITIVES.contains(&name.as_str()) => string(name, out),
        Value::String(name) => string(&full_name(name, namespace), out),
        Value::Array(branches) => {
            out.push('[');
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_schema(branch, namespace, out)?;
            }
            out.push(']');
        }
        Value::Object(object) => write_object(object, namespace, out)?,
        other => return Err(format!("{other} is not a schema")),
    }
    Ok(())
}

fn write_object(
    object: &Map<String, Value>,
    namespace: &str,
    out: &mut String,
) -> Result<(), String> {
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // `{"type": {...}}` or `{"type": [...]}`: the inner schema is the schema.
        Some(inner) => return write_schema(inner, namespace, out),
        None => return Err(format!("{} has no type", Value::Object(object.clone()))),
    };
    if PRIMITIVES.contains(&kind) {
        string(kind, out);
        return Ok(());
    }
    match kind {
        "record" | "error" | "enum" | "fixed" => {
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a {kind} without a name"))?;
            let own_namespace = object
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(namespace);
            let name = full_name(name, own_namespace);
            // Names inside a named type resolve against its namespace.
            let inner = name.rsplit_once('.').map_or("", |(ns, _)| ns).to_owned();
            out.push_str("{\"name\":");
            string(&name, out);
            out.push_str(",\"type\":");
            string(kind, out);
            match kind {
                "enum" => {
                    out.push_str(",\"symbols\":");
                    let symbols = object.get("symbols").cloned().unwrap_or(Value::Null);
                    out.push_str(&symbols.to_string());
                }
                "fixed" => {
                    let size = object
                        .get("size")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| format!("fixed {name} without a size"))?;
                    out.push_str(&format!(",\"size\":{size}"));
                }
                _ => {
                    out.push_str(",\"fields\":[");
                    let fields = object
                        .get("fields")
                        .and_then(Value::as_array)
                        .ok_or_else(|| format!("record {name} without fields"))?;
                    for (i, field) in fields.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let field_name = field
                            .get("name")
                            .and_then(Value::as_str)
                            .ok_or_else(|| format!("a field of {name} without a name"))?;
                        out.push_str("{\"name\":");
                        string(field_name, out);
                        out.push_str(",\"type\":");
                        let field_type = field
                            .get("type")
                            .ok_or_else(|| format!("field {name}.{field_name} without a type"))?;
                        write_schema(field_type, &inner, out)?;
                        out.push('}');
                    }
                    out.push(']');
                }
            }
            out.push('}');
        }
        "array" => {
            out.push_str("{\"type\":\"array\",\"items\":");
            write_schema(object.get("items").unwrap_or(&Value::Null), namespace, out)?;
            out.push('}');
        }
        "map" => {
            out.push_str("{\"type\":\"map\",\"values\":");
            write_schema(object.get("values").unwrap_or(&Value::Null), namespace, out)?;
            out.push('}');
        }
        // A reference to a named type, written as an object.
        name => string(&full_name(name, namespace), out),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_transformations() {
        let text = r#"{
            "type": "record", "name": "Event", "namespace": "parley", "doc": "dropped",
            "fields": [
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"},
                 "doc": "dropped", "default": 0},
                {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
                {"name": "again", "type": "Kind"},
                {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
                {"name": "note", "type": ["null", {"type": "string"}], "default": null},
                {"name": "id", "type": {"type": "fixed", "name": "other.Id", "size": 4}}
            ]
        }"#;
        assert_eq!(
            parsing_canonical_form(text).unwrap(),
            concat!(
                r#"{"name":"parley.Event","type":"record","fields":["#,
                r#"{"name":"at","type":"long"},"#,
                r#"{"name":"kind","type":{"name":"parley.Kind","type":"enum","symbols":["A","B"]}},"#,
                r#"{"name":"again","type":"parley.Kind"},"#,
                r#"{"name":"tags","type":{"type":"array","items":"string"}},"#,
                r#"{"name":"note","type":["null","string"]},"#,
                r#"{"name":"id","type":{"name":"other.Id","type":"fixed","size":4}}]}"#
            )
        );
    }

    /// Fingerprints of primitives as the Java library and fastavro give them.
    #[test]
    fn crc64_avro_of_primitives_matches_other_implementations() {
        assert_eq!(crc64_avro(b"\"int\""), 0x7275_d51a_3f39_5c8f);
        assert_eq!(crc64_avro(b"\"string\""), 0x8f01_4872_6345_03c7);
        assert_eq!(crc64_avro(b"\"null\""), 0x63dd_24e7_cc25_8f8a);
        assert_eq!(crc64_avro(b""), 0xc15d_213a_a4d7_a795);
    }
}
