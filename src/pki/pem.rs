//! PEM armour for certificates and chains, byte-for-byte as OpenSSL writes it.

/// `-----BEGIN CERTIFICATE-----` blocks, 64-column base64, `\n` line ends, one per DER in order.
pub fn certificates(_ders: &[Vec<u8>]) -> String {
    unimplemented!()
}
