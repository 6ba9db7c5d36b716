//! PEM armour for certificates and chains, byte-for-byte as OpenSSL writes it.

use zeroize::Zeroizing;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Exact length of the PEM block [`encode_into`] writes.
fn encoded_len(label: &str, der: &[u8]) -> usize {
    let b64 = der.len().div_ceil(3) * 4;
    let lines = b64.div_ceil(64);
    // "-----BEGIN " + label + "-----\n", body + newlines, "-----END " + label + "-----\n"
    (11 + label.len() + 6) + b64 + lines + (9 + label.len() + 6)
}

/// Appends one PEM block to `out` without any intermediate copy of the
/// data (so that a zeroizing `out` is the only place the text lives).
fn encode_into(out: &mut String, label: &str, der: &[u8]) {
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut column = 0;
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            let c = if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]
            } else {
                b'='
            };
            out.push(char::from(c));
        }
        column += 4;
        if column == 64 {
            out.push('\n');
            column = 0;
        }
    }
    if column != 0 {
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

/// One PEM block (`-----BEGIN {label}-----`), 64-column base64, `\n` line
/// ends, as OpenSSL writes it.
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(label, der));
    encode_into(&mut out, label, der);
    out
}

/// Like [`encode`], for secrets: the text is written straight into memory
/// that is zeroed on drop (allocated once at its final size, so no
/// reallocation leaves copies behind).
pub fn encode_zeroizing(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(encoded_len(label, der)));
    encode_into(&mut out, label, der);
    out
}

/// `-----BEGIN CERTIFICATE-----` blocks, 64-column base64, `\n` line ends, one per DER in order.
pub fn certificates(ders: &[Vec<u8>]) -> String {
    let total = ders.iter().map(|d| encoded_len("CERTIFICATE", d)).sum();
    let mut out = String::with_capacity(total);
    for der in ders {
        encode_into(&mut out, "CERTIFICATE", der);
    }
    out
}

/// A PKCS#10 CSR as PEM (`-----BEGIN CERTIFICATE REQUEST-----`), as `openssl req` writes it.
pub fn certificate_request(der: &[u8]) -> String {
    encode("CERTIFICATE REQUEST", der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, b64) in cases {
            let body = if b64.is_empty() {
                String::new()
            } else {
                format!("{b64}\n")
            };
            let want = format!("-----BEGIN X-----\n{body}-----END X-----\n");
            assert_eq!(encode("X", input.as_bytes()), want);
            assert_eq!(
                encode("X", input.as_bytes()).len(),
                encoded_len("X", input.as_bytes())
            );
        }
    }

    #[test]
    fn lines_wrap_at_64_columns() {
        for len in [0usize, 1, 47, 48, 49, 95, 96, 97, 1000] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let text = encode("CERTIFICATE", &der);
            assert_eq!(text.len(), encoded_len("CERTIFICATE", &der));
            let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
            assert!(body.iter().rev().skip(1).all(|l| l.len() == 64), "{len}");
            assert!(body.last().is_none_or(|l| !l.is_empty() && l.len() <= 64));
            let decoded = pem::parse(&text).unwrap();
            assert_eq!(decoded.contents(), der.as_slice());
        }
        let zeroizing = encode_zeroizing("PRIVATE KEY", &[1, 2, 3]);
        assert_eq!(*zeroizing, encode("PRIVATE KEY", &[1, 2, 3]));
    }

    #[test]
    fn chain_is_concatenated_in_order() {
        let chain = vec![vec![1u8; 70], vec![2u8; 10]];
        let text = certificates(&chain);
        let blocks = pem::parse_many(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].contents(), chain[0].as_slice());
        assert_eq!(blocks[1].contents(), chain[1].as_slice());
        assert_eq!(certificates(&[]), "");
    }
}
