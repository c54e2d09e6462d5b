//! TLS client configuration (rustls with ring): a CA bundle from a file, or the
//! system's root certificates.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::BuildError;

/// A client configuration trusting the certificates in `ca_file` (PEM), or the
/// system's roots when `None`.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, BuildError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| BuildError::Tls(format!("{}: {e}", path.display())))?
                .collect::<Result<_, _>>()
                .map_err(|e| BuildError::Tls(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(BuildError::Tls(format!(
                    "{}: no PEM certificate found",
                    path.display()
                )));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| BuildError::Tls(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(BuildError::Tls("no system root certificates found".into()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}
