//! Test side of the CA contract: the `StandIn` a provider's server implements, and chain checks with openssl.

use std::path::PathBuf;
use std::process::Command;

use certfs::issuers::{CertificateAuthority, Issued};

/// A CA server the contract runs against, started by the test on 127.0.0.1
/// (a stand-in of the vendor's documented API, or a real server such as
/// pebble). Dropping it stops the server.
pub trait StandIn: Sized {
    /// Starts the server and waits until it answers.
    fn start() -> Self;
    /// A provider client configured with the right credentials and the
    /// server's base URL as `endpoint`.
    fn authority(&self) -> Box<dyn CertificateAuthority>;
    /// The same with credentials the CA refuses.
    fn authority_with_wrong_credentials(&self) -> Box<dyn CertificateAuthority>;
    /// A DNS name this server will issue for (`tag` keeps tests apart).
    fn host_name(&self, tag: &str) -> String;
    /// The CA root that issued chains verify against, PEM file.
    fn root_pem(&self) -> PathBuf;
    /// Makes the CA refuse orders for `host`; returns (part of) the
    /// message the CA will give.
    fn refuse_orders(&self, host: &str) -> String;
    /// Makes orders for `host` stay pending until cancelled.
    fn hold_orders(&self, host: &str);
    /// Stops answering: connections are refused.
    fn go_down(&mut self);
    /// Answers again, on the same address.
    fn come_up(&mut self);
}

/// `openssl verify` accepts the leaf with its chain against `root`.
pub fn assert_chain_verifies(issued: &Issued, root: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let pem = |ders: &[Vec<u8>]| -> String {
        ders.iter()
            .map(|d| certfs::pki::pem::encode("CERTIFICATE", d))
            .collect()
    };
    let leaf = dir.path().join("leaf.pem");
    let chain = dir.path().join("chain.pem");
    std::fs::write(&leaf, pem(std::slice::from_ref(&issued.leaf))).unwrap();
    std::fs::write(&chain, pem(&issued.chain)).unwrap();
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(root)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&leaf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
