//! TLS: certificates are verified, and nothing turns that off. A server on
//! 127.0.0.1 with a self-signed certificate (`tests/tls/`) must be refused during the handshake,
//! before any request, and so any credential, is sent.

use std::path::{Path, PathBuf};

use crate::support::reliability::*;

#[test]
fn a_server_with_a_self_signed_certificate_is_refused_before_anything_is_sent() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};

    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let certs = vec![CertificateDer::from_pem_file(tls.join("self_signed.crt")).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(tls.join("self_signed.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let connections = Arc::new(AtomicUsize::new(0));
    let handshakes = Arc::new(AtomicUsize::new(0));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    {
        let (connections, handshakes) = (connections.clone(), handshakes.clone());
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, handshakes) = (acceptor.clone(), handshakes.clone());
                tokio::spawn(async move {
                    if let Ok(mut stream) = acceptor.accept(tcp).await {
                        handshakes.fetch_add(1, Ordering::SeqCst);
                        let answer = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}";
                        let _ = stream.write_all(answer).await;
                    }
                });
            }
        });
    }

    let dir = tempdir();
    write(dir.path(), "usersync.toml", ml_config("max_retries = 0"));
    write(dir.path(), "export.csv", csv_of(&people(1, 8)));
    let out = usersync(dir.path())
        .args(["sync", "export.csv", "-c", "usersync.toml", "-t", "t"])
        .args(["--ledger", "ledger.db"])
        .args(["--base-url", &format!("https://127.0.0.1:{port}/")])
        .envs(demo_env("meetinglawyers"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(connections.load(Ordering::SeqCst) >= 1, "never connected");
    assert_eq!(
        handshakes.load(Ordering::SeqCst),
        0,
        "a handshake succeeded"
    );
    let runs = assert_ledger_consistent(&dir.path().join("ledger.db"));
    let outcome = &ledger(&dir.path().join("ledger.db"))
        .outcomes(runs[0].id)
        .unwrap()[0];
    assert_eq!(outcome.error_code.as_deref(), Some("connect"));
    let detail = outcome.error_detail.clone().unwrap_or_default();
    assert!(detail.contains("certificate"), "{detail}");
}

#[test]
fn no_code_path_turns_certificate_checks_off() {
    // The only client is `dispatch::http_client`; nothing may weaken it, quietly or not, until
    // an explicit, loudly logged `--insecure` exists (it does not).
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    for file in files {
        let code = std::fs::read_to_string(&file).unwrap();
        for weakening in [
            "danger_accept_invalid_certs",
            "danger_accept_invalid_hostnames",
            "dangerous()",
            "tls_built_in_root_certs(false)",
        ] {
            assert!(
                !code.contains(weakening),
                "{weakening} in {}",
                file.display()
            );
        }
    }
}
