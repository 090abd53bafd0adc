//! Stable hashing and the deterministic ids that outputs carry.
//!
//! Ids are derived from input alone, so a replay after a failure produces byte-identical
//! records. The hash is FNV-1a 64: stable across builds and platforms, unlike `std`'s.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of byte strings, each followed by a separator so `("ab", "c") != ("a", "bc")`.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// The id of a conversation's `ordinal`-th ticket: `<16 hex digits of the key's hash>-<ordinal>`.
pub fn ticket_id(account: &str, conversation: &str, ordinal: u32) -> String {
    let hash = stable_hash(&[account.as_bytes(), conversation.as_bytes()]);
    format!("{hash:016x}-{ordinal}")
}

/// The id of the `ordinal`-th record of `kind` (`s` status change, `r` routing request,
/// `m` metrics, `i` inactivity reminder) about a ticket: `<ticket id>.<kind><ordinal>`.
/// Written by hand, in one allocation of the right size: every output record calls it.
pub fn record_id(ticket_id: &str, kind: char, ordinal: u32) -> String {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = ordinal;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let digits = &digits[start..];
    let mut id = String::with_capacity(ticket_id.len() + 1 + kind.len_utf8() + digits.len());
    id.push_str(ticket_id);
    id.push('.');
    id.push(kind);
    // ASCII digits: a char each, without validating them again as UTF-8.
    id.extend(digits.iter().map(|&digit| char::from(digit)));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_parts() {
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // Pinned (computed independently from the FNV-1a definition): state on disk and ids in topics depend on this value never changing.
        assert_eq!(stable_hash(&[b"acme", b"conv-1"]), 0xea03_9bd0_031c_3bad);
    }

    #[test]
    fn ticket_ids_differ_by_conversation_and_ordinal() {
        let a = ticket_id("acme", "c1", 1);
        assert_eq!(a, ticket_id("acme", "c1", 1));
        assert_ne!(a, ticket_id("acme", "c1", 2));
        assert_ne!(a, ticket_id("acme", "c2", 1));
        assert_eq!(record_id(&a, 's', 3), format!("{a}.s3"));
    }

    #[test]
    fn record_ids_spell_the_ordinal_in_decimal() {
        for ordinal in [0, 7, 10, 99, 1_000, 4_294_967_295] {
            assert_eq!(
                record_id("t-1", 'l', ordinal),
                format!("t-1.l{ordinal}"),
                "{ordinal}"
            );
        }
    }
}
