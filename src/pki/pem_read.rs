//! Reading PEM text leniently: blocks among other text, CRLF, indentation, and errors that never quote key material.

use zeroize::Zeroizing;

use super::PkiError;

/// One `-----BEGIN {label}-----` … `-----END {label}-----` block, not yet decoded.
pub(super) struct Block<'a> {
    /// The label, e.g. `CERTIFICATE` or `ENCRYPTED PRIVATE KEY`.
    pub label: String,
    /// 1-based position of the block in the file (for messages).
    pub number: usize,
    /// `Key: value` header lines (RFC 1421), trimmed.
    pub headers: Vec<&'a str>,
    /// The base64 lines, trimmed.
    body: Vec<&'a [u8]>,
}

impl Block<'_> {
    /// Whether this is an OpenSSL "traditional" encrypted key (`Proc-Type: 4,ENCRYPTED`).
    pub fn legacy_encrypted(&self) -> bool {
        self.headers.iter().any(|h| {
            h.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("Proc-Type") && v.contains("ENCRYPTED")
            })
        })
    }

    /// The cipher named by a `DEK-Info` header, if any (e.g. `AES-256-CBC`).
    pub fn dek_cipher(&self) -> Option<&str> {
        self.headers.iter().find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim().eq_ignore_ascii_case("DEK-Info").then(|| {
                let v = v.trim();
                v.split_once(',').map_or(v, |(cipher, _)| cipher)
            })
        })
    }

    /// The decoded bytes, in memory that is zeroed on drop (the block may hold a key).
    ///
    /// Bad base64 gives `Malformed` naming the block, never its content.
    pub fn decode(&self) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        let size: usize = self.body.iter().map(|l| l.len() + 1).sum();
        let mut text = Zeroizing::new(Vec::with_capacity(size + 40));
        text.extend_from_slice(b"-----BEGIN X-----\n");
        for line in &self.body {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        text.extend_from_slice(b"-----END X-----\n");
        match pem::parse(&*text) {
            Ok(block) if !block.contents().is_empty() => Ok(Zeroizing::new(block.into_contents())),
            _ => Err(PkiError::Malformed(format!(
                "the {} PEM block (block {} in the file) is damaged: its body is not valid base64",
                self.label, self.number
            ))),
        }
    }
}

/// Trims ASCII whitespace (including the `\r` of CRLF line ends) from both ends.
fn trim(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// The label of a `-----{keyword} label-----` line.
fn armour_label<'a>(line: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(b"-----")?.strip_prefix(keyword)?;
    rest.strip_suffix(b"-----")
}

/// A label as RFC 7468 allows it (printable ASCII and spaces, no `-`):
/// it is quoted in error messages, so anything else, such as two armour
/// lines run together with what was between them, is not.
fn label_text(raw: &[u8]) -> Result<String, PkiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .iter()
            .all(|b| (b.is_ascii_graphic() && *b != b'-') || *b == b' ');
    if ok {
        Ok(String::from_utf8_lossy(raw).into_owned())
    } else {
        Err(PkiError::Malformed(
            "a PEM BEGIN/END line has an unreadable label".into(),
        ))
    }
}

/// Whether `data` looks like PEM at all: has a `-----BEGIN ` line.
pub(super) fn has_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Splits PEM text into its blocks, in file order, ignoring text between them.
///
/// A BEGIN without its END (a truncated file), an END that names another
/// label, or an END without BEGIN give `Malformed`.
pub(super) fn blocks(data: &[u8]) -> Result<Vec<Block<'_>>, PkiError> {
    let mut out = Vec::new();
    let mut open: Option<Block<'_>> = None;
    for raw_line in data.split(|&b| b == b'\n') {
        let line = trim(raw_line);
        if let Some(label) = armour_label(line, b"BEGIN ") {
            let label = label_text(label)?;
            if let Some(block) = open {
                return Err(PkiError::Malformed(format!(
                    "the {} PEM block has no END line before the next BEGIN {label}",
                    block.label
                )));
            }
            let number = out.len() + 1;
            open = Some(Block {
                label,
                number,
                headers: Vec::new(),
                body: Vec::new(),
            });
        } else if let Some(label) = armour_label(line, b"END ") {
            let label = label_text(label)?;
            match open.take() {
                Some(block) if block.label == label => out.push(block),
                Some(block) => {
                    return Err(PkiError::Malformed(format!(
                        "the {} PEM block ends with END {label}",
                        block.label
                    )));
                }
                None => {
                    return Err(PkiError::Malformed(format!(
                        "an END {label} line has no BEGIN line"
                    )));
                }
            }
        } else if let Some(block) = open.as_mut() {
            if line.contains(&b':') {
                // Base64 has no ':', so this is a header line.
                let header = std::str::from_utf8(line).map_err(|_| {
                    PkiError::Malformed(format!(
                        "the {} PEM block has an unreadable header line",
                        block.label
                    ))
                })?;
                block.headers.push(header);
            } else if !line.is_empty() {
                block.body.push(line);
            }
        }
    }
    match open {
        Some(block) => Err(PkiError::Malformed(format!(
            "the {} PEM block has no END line (is the file truncated?)",
            block.label
        ))),
        None => Ok(out),
    }
}

/// Decodes a file that is nothing but base64 (no BEGIN/END lines), as some
/// tools save a DER file; `None` when it is not.
pub(super) fn bare_base64(data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let trimmed = data.trim_ascii();
    if trimmed.len() < 16
        || !trimmed
            .iter()
            .all(|b| alphabet(b) || b.is_ascii_whitespace())
    {
        return None;
    }
    let block = Block {
        label: String::new(),
        number: 1,
        headers: Vec::new(),
        body: trimmed.split(|b| b.is_ascii_whitespace()).collect(),
    };
    block.decode().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_among_text_with_crlf_and_indentation() {
        let text = b"Subject: x\r\n  -----BEGIN CERTIFICATE-----\r\n  AQID\r\n  -----END CERTIFICATE-----\r\nbag\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00FF\n\nBAUG\n-----END RSA PRIVATE KEY-----\ntrailing";
        let found = blocks(text).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].label, "CERTIFICATE");
        assert_eq!(*found[0].decode().unwrap(), vec![1, 2, 3]);
        assert!(!found[0].legacy_encrypted());
        assert_eq!(found[1].label, "RSA PRIVATE KEY");
        assert!(found[1].legacy_encrypted());
        assert_eq!(found[1].dek_cipher(), Some("AES-256-CBC"));
        assert_eq!(*found[1].decode().unwrap(), vec![4, 5, 6]);
        assert!(has_pem(text));
        assert!(!has_pem(b"-----BEGIN"));
    }

    #[test]
    fn broken_framing_is_refused_with_the_label() {
        let cases: [(&[u8], &str); 5] = [
            (b"-----BEGIN CERTIFICATE-----\nAQID\n", "no END line"),
            (
                b"-----BEGIN CERTIFICATE-----\nAQID\n-----BEGIN PRIVATE KEY-----\n",
                "before the next BEGIN",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAQID\n-----END PRIVATE KEY-----\n",
                "ends with END PRIVATE KEY",
            ),
            (b"-----END CERTIFICATE-----\n", "no BEGIN"),
            (b"-----BEGIN \x01\xff-----\n", "unreadable label"),
        ];
        for (text, want) in cases {
            match blocks(text) {
                Err(PkiError::Malformed(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{:?}", other.map(|b| b.len())),
            }
        }
    }

    #[test]
    fn junk_base64_names_the_block_but_not_its_content() {
        let text = b"-----BEGIN PRIVATE KEY-----\nMIIE$$secretjunk!!\n-----END PRIVATE KEY-----\n";
        let found = blocks(text).unwrap();
        match found[0].decode() {
            Err(PkiError::Malformed(m)) => {
                assert!(m.contains("PRIVATE KEY") && m.contains("base64"), "{m}");
                assert!(!m.contains("secret") && !m.contains("MIIE"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        let empty = blocks(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
        assert!(empty[0].decode().is_err());
    }
}
