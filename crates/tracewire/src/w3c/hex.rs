//! Lower-case hex (the W3C formats allow no upper case): ids eight digits a word, short fields by table.

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

/// Decodes a short field's lower-case hex digits (at most 16: a version, flags, a
/// percent-escape) digit by digit; `None` on any other byte. Ids go through [`decode_id`].
pub(crate) fn decode(digits: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut invalid = 0u8;
    for &d in digits {
        let v = LOWER_HEX_VALUE[d as usize];
        invalid |= v;
        value = (value << 4) | u64::from(v & 0x0f);
    }
    (invalid & 0xf0 == 0).then_some(value)
}

/// Decodes an id's `N` lower-case hex digits (`N` a multiple of 8, at most 32) eight at a
/// time; `None` on any other byte.
pub(crate) fn decode_id<const N: usize>(digits: &[u8; N]) -> Option<u128> {
    let mut value = 0u128;
    let mut bad = 0u64;
    for word in digits.chunks_exact(8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let (packed, wrong) = decode_word(u64::from_be_bytes(bytes));
        value = (value << 32) | u128::from(packed);
        bad |= wrong;
    }
    (bad == 0).then_some(value)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Eight digits in one word (the first digit in the top byte), packed without a table or a
/// branch per digit; the second value is non-zero when a byte is not a lower-case hex digit.
fn decode_word(word: u64) -> (u32, u64) {
    // A byte b < 0x80 lies in [lo, hi] when b + (0x80 - lo) has its top bit set and
    // b + (0x7f - hi) has not; no byte below 0x80 carries into its neighbour.
    let in_range = |lo: u64, hi: u64| {
        word.wrapping_add((0x80 - lo) * ONES) & !word.wrapping_add((0x7f - hi) * ONES)
    };
    let hex = (in_range(0x30, 0x39) | in_range(0x61, 0x66)) & HIGH_BITS; // 0-9, a-f
    let bad = (word & HIGH_BITS) | (hex ^ HIGH_BITS);
    // '0'-'9' keep their low nibble; 'a'-'f' (bit 6 set) add 9 to theirs: 1-6 become 10-15.
    let nibbles = (word & (0x0f * ONES)) + ((word >> 6) & ONES) * 9;
    // Two nibbles a byte, then two bytes, then four: the digits in order.
    let bytes = (nibbles | (nibbles >> 4)) & 0x00ff_00ff_00ff_00ff;
    let pairs = (bytes | (bytes >> 8)) & 0x0000_ffff_0000_ffff;
    ((pairs | (pairs >> 16)) as u32, bad)
}

/// Writes the low `out.len() * 4` bits of `value` (at most 32 digits) as lower-case hex: an
/// id's digits eight a word, like [`decode_id`] (a traceparent's 48 digit by digit took about
/// 250 instructions on every send), a short field's digit by digit.
pub(crate) fn encode(value: u128, out: &mut [u8]) {
    if out.len().is_multiple_of(8) && out.len() <= 32 {
        let words = out.len() / 8;
        for (i, word) in out.chunks_exact_mut(8).enumerate() {
            let shift = 32 * (words - 1 - i);
            word.copy_from_slice(&encode_word((value >> shift) as u32).to_be_bytes());
        }
        return;
    }
    let split = out.len().saturating_sub(16);
    let (high, low) = out.split_at_mut(split);
    encode_u64((value >> 64) as u64, high);
    encode_u64(value as u64, low);
}

/// Eight digits of `v` in one word, the first digit in the top byte.
fn encode_word(v: u32) -> u64 {
    // Each nibble into a byte of its own, in order: halves, then bytes, then nibbles.
    let x = u64::from(v);
    let x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    let x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x | (x << 4)) & (0x0f * ONES);
    // '0' + d, and 'a' - '0' - 10 = 39 more where d > 9 (d + 6 reaches bit 4); no carry
    // crosses a byte.
    let above_nine = ((x + 6 * ONES) >> 4) & ONES;
    x + b'0' as u64 * ONES + above_nine * 39
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
        assert_eq!(decode_id(&buf), Some(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(decode(b"0A"), None, "upper case is not W3C hex");
        assert_eq!(decode(b"0g"), None);
        assert_eq!(decode(b"ff"), Some(255));
        let mut short = [0u8; 2];
        encode(0xab, &mut short);
        assert_eq!(&short, b"ab");
    }

    #[test]
    fn ids_encode_as_digit_by_digit_for_every_digit_in_every_place() {
        for place in 0..32 {
            for digit in 0..16u128 {
                let value = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210 ^ (digit << (4 * place));
                let (mut words, mut one_by_one) = ([0u8; 32], [0u8; 32]);
                encode(value, &mut words);
                encode_u64((value >> 64) as u64, &mut one_by_one[..16]);
                encode_u64(value as u64, &mut one_by_one[16..]);
                assert_eq!(words, one_by_one, "{value:032x}");
                assert_eq!(&words[..], format!("{value:032x}").as_bytes());
                let mut span_id = [0u8; 16];
                encode(value, &mut span_id);
                assert_eq!(&span_id[..], format!("{:016x}", value as u64).as_bytes());
            }
        }
    }

    #[test]
    fn an_id_decodes_as_digit_by_digit_for_every_byte_in_every_place() {
        for place in 0..16 {
            for byte in 0..=255u8 {
                let mut digits = *b"0123456789abcdef";
                digits[place] = byte;
                let one_by_one = decode(&digits).map(u128::from);
                assert_eq!(decode_id(&digits), one_by_one, "{byte:#x} at {place}");
            }
        }
        let id = b"0af7651916cd43dd8448eb211c80319c";
        assert_eq!(decode_id(id), Some(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(decode_id(b"ffffffffffffffff"), Some(u128::from(u64::MAX)));
    }
}
