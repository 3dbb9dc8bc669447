//! The SRTP keys of a peer, as DTLS exported them, for the forwarding fast path
//! ([`super::srtp`]).
//!
//! str0m keeps the keys it derives to itself. Its crypto backend is pluggable, though, so
//! the server's peers are built with a provider whose DTLS instances are the backend's own,
//! wrapped: each wrapper passes every call through and keeps a copy of the keying material
//! the handshake exports (RFC 5764 §4.2) in the peer's [`KeyTap`]. Nothing else changes —
//! str0m still does ICE, DTLS, RTCP and the microphone's SRTP.
//!
//! str0m creates the DTLS instance while building the `Rtc`, so the tap is handed over
//! through a thread-local set only around that call ([`build_with_tap`]).

use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use str0m::config::CryptoProvider;
use str0m::crypto::CryptoError;
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile,
};

/// The keying material one DTLS handshake exported.
#[derive(Clone)]
pub struct ExportedKeys {
    /// The negotiated SRTP protection profile.
    pub profile: SrtpProfile,
    /// Client key, server key, client salt, server salt (RFC 5764 §4.2).
    pub material: Vec<u8>,
    /// We were the DTLS client, so we send with the client's key.
    pub active: bool,
}

impl std::fmt::Debug for ExportedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("ExportedKeys").field("profile", &self.profile).finish_non_exhaustive()
    }
}

/// Where one peer's DTLS instance leaves the keys it exports.
#[derive(Debug, Default)]
pub struct KeyTap(Mutex<Option<ExportedKeys>>);

impl KeyTap {
    /// Keys exported since the last call, if any.
    pub fn take(&self) -> Option<ExportedKeys> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn put(&self, keys: ExportedKeys) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(keys);
    }
}

thread_local! {
    /// The tap for the DTLS instance the current `Rtc` build creates.
    static NEXT_TAP: RefCell<Option<Arc<KeyTap>>> = const { RefCell::new(None) };
}

/// Runs `build` (which builds one `Rtc` with [`provider`]) so that its DTLS instance
/// reports to `tap`.
pub fn build_with_tap<T>(tap: &Arc<KeyTap>, build: impl FnOnce() -> T) -> T {
    NEXT_TAP.with(|t| *t.borrow_mut() = Some(Arc::clone(tap)));
    let built = build();
    // Cleared even if the build did not create an instance.
    NEXT_TAP.with(|t| t.borrow_mut().take());
    built
}

/// The backend's crypto provider with the tapping DTLS provider.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| {
        static TAPPING: TappingProvider = TappingProvider;
        let mut p = str0m::crypto::from_feature_flags();
        p.dtls_provider = &TAPPING;
        Arc::new(p)
    }))
}

/// The backend's own crypto provider (its SRTP primitives serve the fast path too).
pub fn backend() -> &'static CryptoProvider {
    static BACKEND: OnceLock<CryptoProvider> = OnceLock::new();
    BACKEND.get_or_init(str0m::crypto::from_feature_flags)
}

#[derive(Debug)]
struct TappingProvider;

impl DtlsProvider for TappingProvider {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        backend().dtls_provider.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = backend().dtls_provider.new_dtls(cert, now, dtls_version, mtu)?;
        Ok(match NEXT_TAP.with(|t| t.borrow_mut().take()) {
            Some(tap) => Box::new(Tapped { inner, tap }),
            None => inner,
        })
    }
}

/// A DTLS instance that copies the exported keying material into its tap.
#[derive(Debug)]
struct Tapped {
    inner: Box<dyn DtlsInstance>,
    tap: Arc<KeyTap>,
}

impl DtlsInstance for Tapped {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.inner.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(material, profile) = &out {
            let keys = ExportedKeys {
                profile: *profile,
                material: material.to_vec(),
                active: self.inner.is_active(),
            };
            // A later handshake exports again; str0m re-keys, and so does the fast path.
            self.tap.put(keys);
        }
        out
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}
