//! Reading Kafka headers from untrusted messages without panicking.
//!
//! rdkafka's safe `Headers::try_get` (and `get`, `iter`) `unwrap`s the UTF-8 conversion of each
//! header KEY, so a message with a non-UTF-8 key panics any consumer that looks at its headers.
//! This module reads them through librdkafka's own `rd_kafka_header_get_all`, keeping keys as
//! bytes. It is the crate's only `unsafe` code.
#![allow(unsafe_code)]

use rdkafka::bindings as rd;
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, OwnedHeaders};
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::raw::{c_char, c_void};
use std::ptr;

/// One header: key bytes and value (`None` for a Kafka null value).
pub(crate) type RawHeader<'a> = (&'a [u8], Option<&'a [u8]>);

/// Headers held inline: tracewire's four and a few of the user's.
const INLINE: usize = 8;

/// A message's headers in order, the first eight inline: reading a consumed message's headers
/// allocates nothing. No `Drop` of its own (unlike a `SmallVec`), so, like a `Vec`, it may
/// outlive the last use of the message it borrows. The inline slots start uninitialised: made
/// for every message, an initialised array was a constant copied in (256 bytes).
#[derive(Clone)]
pub(crate) struct RawHeaders<'a> {
    /// The first `len` are initialised.
    inline: [MaybeUninit<RawHeader<'a>>; INLINE],
    len: usize,
    spilled: Vec<RawHeader<'a>>,
}

impl Default for RawHeaders<'_> {
    #[inline]
    fn default() -> Self {
        RawHeaders {
            inline: [MaybeUninit::uninit(); INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }
}

impl std::fmt::Debug for RawHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> RawHeaders<'a> {
    fn push(&mut self, header: RawHeader<'a>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                slot.write(header);
                self.len += 1;
            }
            None => self.spilled.push(header),
        }
    }

    /// The headers, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &RawHeader<'a>> {
        // SAFETY: `push` initialised the first `len` slots, and nothing un-initialises them.
        let inline = self.inline[..self.len]
            .iter()
            .map(|slot| unsafe { slot.assume_init_ref() });
        inline.chain(&self.spilled)
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.len + self.spilled.len()
    }
}

/// Every header of a consumed message, in order, into `out` (empty): filled in place, where a
/// returned `RawHeaders` (about 290 bytes) was copied out of the call on every message.
pub(crate) fn message_headers_into<'a>(message: &'a BorrowedMessage<'_>, out: &mut RawHeaders<'a>) {
    let mut headers: *mut rd::rd_kafka_headers_t = ptr::null_mut();
    // SAFETY: `message.ptr()` is the live librdkafka message that `message` borrows; librdkafka
    // writes the message's own headers pointer (or leaves it null) into `headers`.
    let err = unsafe { rd::rd_kafka_message_headers(message.ptr(), &mut headers) };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
        return;
    }
    // SAFETY: the headers belong to the message, which outlives 'a.
    unsafe { read_all_into(headers, out) }
}

/// Every header of a header list (e.g. one detached from a consumed message).
pub(crate) fn owned_headers(headers: &OwnedHeaders) -> RawHeaders<'_> {
    let borrowed: &BorrowedHeaders = headers.as_borrowed();
    // rdkafka's `BorrowedHeaders` is a zero-sized view whose address is the librdkafka headers
    // object; rdkafka converts it the same way internally (`BorrowedHeaders::as_native_ptr`).
    let native = borrowed as *const BorrowedHeaders as *const rd::rd_kafka_headers_t;
    let mut out = RawHeaders::default();
    // SAFETY: `native` is the live header list `headers` owns, borrowed for the result's lifetime.
    unsafe { read_all_into(native, &mut out) };
    out
}

/// # Safety
/// `headers` must point to a live librdkafka header list that outlives `'a`.
unsafe fn read_all_into<'a>(headers: *const rd::rd_kafka_headers_t, out: &mut RawHeaders<'a>) {
    // SAFETY: the caller guarantees `headers` is valid.
    let count = unsafe { rd::rd_kafka_header_cnt(headers) };
    for idx in 0..count {
        let mut name: *const c_char = ptr::null();
        let mut value: *const c_void = ptr::null();
        let mut size = 0usize;
        // SAFETY: `idx < count`; librdkafka fills the three out-pointers for that header.
        let err =
            unsafe { rd::rd_kafka_header_get_all(headers, idx, &mut name, &mut value, &mut size) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            continue;
        }
        // SAFETY: librdkafka stores header names NUL-terminated and values as `size` bytes, both
        // owned by the header list, which lives for 'a.
        let key = unsafe { CStr::from_ptr(name) }.to_bytes();
        let value = (!value.is_null())
            .then(|| unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) });
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Header;

    #[test]
    fn headers_past_the_inline_ones_keep_their_order() {
        let names: Vec<String> = (0..INLINE + 4).map(|i| format!("h{i}")).collect();
        let mut headers = OwnedHeaders::new();
        for (i, name) in names.iter().enumerate() {
            let value = (i % 3 != 0).then_some(name.as_bytes());
            headers = headers.insert(Header { key: name, value });
        }
        let read = owned_headers(&headers);
        assert_eq!(read.len(), names.len());
        for (i, (key, value)) in read.iter().enumerate() {
            assert_eq!(*key, names[i].as_bytes());
            assert_eq!(*value, (i % 3 != 0).then_some(names[i].as_bytes()));
        }
        assert!(format!("{read:?}").contains("104, 49, 49")); // "h11", the last spilled one
        assert_eq!(RawHeaders::default().iter().count(), 0);
    }
}
