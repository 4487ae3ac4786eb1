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
    let mut value: u128 = 0;
    let mut invalid = 0u8;
    for &d in digits {
        let v = LOWER_HEX_VALUE[d as usize];
        invalid |= v & 0xf0;
        value = (value << 4) | u128::from(v & 0x0f);
    }
    (invalid == 0).then_some(value)
}

/// Writes the low `out.len() * 4` bits of `value` as lower-case hex.
pub(crate) fn encode(value: u128, out: &mut [u8]) {
    let mut v = value;
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
    }
}
