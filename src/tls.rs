//! The TLS client configuration every HTTPS call uses (platform, backends,
//! `diagnose`): the built-in web roots, plus the certificates of a private
//! CA when the operator names a PEM bundle (`AGENT_CA_FILE`).
//!
//! Invariant: built once from `Config`; nothing here reads the environment.

use std::sync::Arc;
use ureq::rustls;
use ureq::rustls::pki_types::pem::PemObject;
use ureq::rustls::pki_types::CertificateDer;

/// A CA bundle bigger than this is not a CA bundle.
pub const MAX_CA_FILE: u64 = 4 << 20;

/// Reads the certificates of a PEM bundle; an error names the file and says
/// what is wrong with it.
pub fn read_pem_bundle(path: &str) -> Result<Vec<Vec<u8>>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
    if meta.len() > MAX_CA_FILE {
        return Err(format!("is larger than {MAX_CA_FILE} bytes"));
    }
    let pem = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("is not a valid PEM bundle: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The client configuration: web roots plus `extra` (DER certificates,
/// those that are not usable CA certificates are skipped). `Config` builds
/// it once at start, so an error shows there.
pub fn client_config(extra: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let (_added, ignored) =
        roots.add_parsable_certificates(extra.iter().map(|c| CertificateDer::from(c.clone())));
    if ignored > 0 && ignored == extra.len() {
        return Err("holds no certificate usable as a CA".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
