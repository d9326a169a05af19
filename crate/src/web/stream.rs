//! `BundleStream`: a bundle loaded while it downloads ([`crate::bundle::BundleStream`]). The page
//! pushes each chunk of the response as it arrives, lets the stream hash what has come while the
//! next chunk is awaited, and hands the stream to `Recommender.fromStream` once the body ends
//! (www/lib/stream-load.js does all of this).

use wasm_bindgen::prelude::*;

use super::js_error::fail;
use crate::bundle;
use crate::error::VitrineError;

/// A bundle being downloaded: its bytes, in the engine's memory from the first chunk on, and its
/// digest computed as they come.
#[wasm_bindgen(js_name = BundleStream)]
pub struct WebBundleStream {
    pub(super) inner: bundle::BundleStream,
}

#[wasm_bindgen(js_class = BundleStream)]
impl WebBundleStream {
    /// An empty stream; `sizeHint`: the response's length when the server announces it
    /// (`Content-Length` without a `Content-Encoding`), reserved up front when the memory is
    /// there. Only a hint (wasm-bindgen reads it as a u32: a wrong one costs a reallocation once
    /// the header is in, or nothing): the bundle's header decides.
    ///
    /// `fileOrder: true`: hash the file as it is (SHA-256, byte 0 to the end: `fileSha256()`),
    /// for a page that checks it against its `integrity` and loads it without the bundle's own
    /// digest; otherwise the bundle's canonical digest, checked by `fromStream`.
    #[wasm_bindgen(constructor)]
    pub fn new(size_hint: Option<u32>, file_order: Option<bool>) -> WebBundleStream {
        let order = if file_order == Some(true) {
            bundle::HashOrder::File
        } else {
            bundle::HashOrder::Canonical
        };
        WebBundleStream {
            inner: bundle::BundleStream::hashing(size_hint.map(|n| n as usize), order),
        }
    }

    /// SHA-256 of the whole file (32 bytes) for a `fileOrder` stream, its hashing finished now;
    /// `undefined` before the last byte, for a canonical stream, or when asked a second time.
    #[wasm_bindgen(js_name = fileSha256)]
    pub fn file_sha256(&mut self) -> Option<Vec<u8>> {
        self.inner.file_sha256().map(|h| h.to_vec())
    }

    /// Appends the next chunk. Throws (`code` `bundle`) as soon as the bytes show the bundle is
    /// bad: a header above the reader's limits or malformed, more bytes than the header
    /// declares, a length this device cannot hold. The page then stops the download.
    pub fn push(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] chunk: JsValue,
    ) -> Result<(), JsValue> {
        let view = super::js_bytes::byte_view(&chunk, "the chunk", "bundle")?;
        self.inner
            .push_with(view.length() as usize, |dst| view.copy_to_uninit(dst))
            .map_err(|e| fail(VitrineError::from(e)))
    }

    /// Hashes up to `maxBytes` of what has arrived (in the digest's order); returns how many
    /// bytes it hashed (0: nothing more until more arrives).
    pub fn hash(&mut self, max_bytes: u32) -> u32 {
        self.inner.hash(max_bytes as usize) as u32
    }

    /// Bytes received.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> f64 {
        self.inner.received() as f64
    }

    /// Bytes still to hash before the digest is known (0 without a recorded digest).
    #[wasm_bindgen(getter)]
    pub fn unhashed(&self) -> f64 {
        self.inner.unhashed() as f64
    }

    /// The bytes received so far, as a view of the engine's memory: valid only until the next
    /// call into the engine (which may grow its memory); copy it (`slice()`) to keep it.
    #[wasm_bindgen(js_name = bytesView)]
    pub fn bytes_view(&self) -> js_sys::Uint8Array {
        // SAFETY: the view aliases `inner`'s buffer; JS reads it synchronously before calling into
        // wasm again (documented above), so the buffer is neither moved nor freed meanwhile.
        unsafe { js_sys::Uint8Array::view(self.inner.bytes()) }
    }
}
