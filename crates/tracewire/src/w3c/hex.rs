//! Lower-case hex, table driven: the W3C formats allow no upper case.

const INVALID: u8 = 0xff;

/// Value of each byte as a lower-case hex digit, or `INVALID`.
const LOWER_HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes lower-case hex digits (at most 32) into an integer; `None` on any other byte.
pub(crate) fn decode(digits: &[u8]) -> Option<u128> {
    // Two 64-bit halves: u64 shifts are far cheaper than u128 ones on the hot path.
    let split = digits.len().saturating_sub(16);
    let (high, low) = digits.split_at(split);
    Some((u128::from(decode_u64(high)?) << 64) | u128::from(decode_u64(low)?))
}

/// Decodes at most 16 lower-case hex digits.
fn decode_u64(digits: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut invalid = 0u8;
    for &d in digits {
        let v = LOWER_HEX_VALUE[d as usize];
        invalid |= v;
        value = (value << 4) | u64::from(v & 0x0f);
    }
    (invalid & 0xf0 == 0).then_some(value)
}

/// Writes the low `out.len() * 4` bits of `value` (at most 32 digits) as lower-case hex.
pub(crate) fn encode(value: u128, out: &mut [u8]) {
    let split = out.len().saturating_sub(16);
    let (high, low) = out.split_at_mut(split);
    encode_u64((value >> 64) as u64, high);
    encode_u64(value as u64, low);
}

fn encode_u64(mut v: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v & 0xf) as usize];
        v >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let mut buf = [0u8; 32];
        encode(0x0af7651916cd43dd8448eb211c80319c, &mut buf);
        assert_eq!(&buf, b"0af7651916cd43dd8448eb211c80319c");
        assert_eq!(decode(&buf), Some(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(decode(b"0A"), None, "upper case is not W3C hex");
        assert_eq!(decode(b"0g"), None);
        assert_eq!(decode(b"ff"), Some(255));
        let mut short = [0u8; 2];
        encode(0xab, &mut short);
        assert_eq!(&short, b"ab");
    }
}
