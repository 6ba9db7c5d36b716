//! Valid inputs for every parser, made once with openssl (certificates, keys, PFX, PKCS#7) or written out (policies, DNs, JSON documents), to be mutated by the fuzz and storm tests.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::Command;

/// One valid input and the name it goes by in failure messages.
pub type Sample = (&'static str, Vec<u8>);

/// Every kind of valid input, made in a temporary directory that is kept
/// for the life of the value.
pub struct Samples {
    /// Holds the openssl work files.
    pub dir: tempfile::TempDir,
    /// PKCS#12 files, all with the password [`PFX_PASSWORD`] except `pfx-nopass`.
    pub pfx: Vec<Sample>,
    /// PEM files for `import/`: certificate chain and one key, in each key form.
    pub pem_import: Vec<Sample>,
    /// Files for `merge/`: DER and PEM certificates, PKCS#7 DER and PEM.
    pub merge: Vec<Sample>,
    /// DER X.501 names taken from the certificates.
    pub names_der: Vec<Sample>,
    /// `policy.json` texts in both dialects.
    pub policies: Vec<Sample>,
    /// Subjects as Key Vault users write them.
    pub subjects: Vec<&'static str>,
    /// tags.json, contacts.json, issuers/*.json, hooks.json, vault.json, operation.json.
    pub documents: Vec<Sample>,
    /// The PKCS#8 DER of every private key above, to look for in logs and files.
    pub keys_der: Vec<Vec<u8>>,
}

/// The password of the PFX samples (and of the encrypted PKCS#8 key).
pub const PFX_PASSWORD: &str = "storm-pass";

/// Runs openssl in `dir`; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn pem_to_der(text: &[u8]) -> Vec<u8> {
    pem::parse(text).expect("pem").into_contents()
}

/// The contents of the certificate's subject Name (a DER SEQUENCE), found
/// by walking TBSCertificate: [version] serial signature issuer validity subject.
fn subject_der(cert: &[u8]) -> Vec<u8> {
    fn tlv(input: &[u8]) -> (usize, usize) {
        // (header length, total length) of the element at the start.
        let len0 = input[1] as usize;
        if len0 < 0x80 {
            (2, 2 + len0)
        } else {
            let n = len0 & 0x7f;
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize);
            (2 + n, 2 + n + len)
        }
    }
    let (h, _) = tlv(cert);
    let tbs = &cert[h..];
    let (h, _) = tlv(tbs);
    let mut rest = &tbs[h..];
    let mut fields = Vec::new();
    while !rest.is_empty() && fields.len() < 7 {
        let (_, total) = tlv(rest);
        fields.push(&rest[..total]);
        rest = &rest[total..];
    }
    let skip = usize::from(fields[0][0] == 0xa0);
    fields[skip + 4].to_vec()
}

impl Samples {
    /// Makes everything (a few seconds of openssl).
    pub fn make() -> Samples {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let o = |args: &[&str]| openssl(d, args);
        fs::write(
            d.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        fs::write(
            d.join("leaf.ext"),
            "basicConstraints=CA:FALSE\nsubjectAltName=DNS:storm.example.com,DNS:www.storm.example.com\n",
        )
        .unwrap();
        o(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "root.key",
        ]);
        o(&[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=Storm Root CA/O=Storm, Inc.",
            "-days",
            "30",
            "-out",
            "root.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        o(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "int.key",
        ]);
        o(&[
            "req",
            "-new",
            "-key",
            "int.key",
            "-subj",
            "/C=US/O=Storm/OU=Issuing/CN=Storm Issuing CA",
            "-out",
            "int.csr",
        ]);
        o(&[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-set_serial",
            "2",
            "-days",
            "30",
            "-extfile",
            "ca.ext",
            "-out",
            "int.pem",
        ]);
        // The issuing CA again, same name, another key (a re-keyed CA).
        o(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "int2.key",
        ]);
        o(&[
            "req",
            "-new",
            "-key",
            "int2.key",
            "-subj",
            "/C=US/O=Storm/OU=Issuing/CN=Storm Issuing CA",
            "-out",
            "int2.csr",
        ]);
        o(&[
            "x509",
            "-req",
            "-in",
            "int2.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-set_serial",
            "5",
            "-days",
            "30",
            "-extfile",
            "ca.ext",
            "-out",
            "int-rekeyed.pem",
        ]);
        o(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.key",
        ]);
        o(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.key",
        ]);
        for (key, serial) in [("rsa", "3"), ("ec", "4")] {
            o(&[
                "req",
                "-new",
                "-key",
                &format!("{key}.key"),
                "-subj",
                "/CN=storm.example.com/O=Storm\\, Ltd./emailAddress=ops@storm.example.com",
                "-out",
                &format!("{key}.csr"),
            ]);
            o(&[
                "x509",
                "-req",
                "-in",
                &format!("{key}.csr"),
                "-CA",
                "int.pem",
                "-CAkey",
                "int.key",
                "-set_serial",
                serial,
                "-days",
                "20",
                "-extfile",
                "leaf.ext",
                "-out",
                &format!("{key}.pem"),
            ]);
        }
        let read = |name: &str| fs::read(d.join(name)).unwrap();
        let cat = |names: &[&str]| -> Vec<u8> { names.iter().flat_map(|n| read(n)).collect() };
        fs::write(d.join("chain.pem"), cat(&["int.pem", "root.pem"])).unwrap();

        let mut pfx = Vec::new();
        let pass = format!("pass:{PFX_PASSWORD}");
        for key in ["rsa", "ec"] {
            let base = [
                "pkcs12",
                "-export",
                "-inkey",
                &format!("{key}.key"),
                "-in",
                &format!("{key}.pem"),
                "-certfile",
                "chain.pem",
                "-out",
                "out.pfx",
            ]
            .map(String::from)
            .to_vec();
            let variants: [(&str, Vec<&str>); 3] = [
                ("pfx-aes", vec!["-passout", &pass]),
                (
                    "pfx-3des",
                    vec![
                        "-passout",
                        &pass,
                        "-keypbe",
                        "PBE-SHA1-3DES",
                        "-certpbe",
                        "PBE-SHA1-3DES",
                        "-macalg",
                        "sha1",
                    ],
                ),
                (
                    "pfx-nopass",
                    vec![
                        "-passout", "pass:", "-keypbe", "NONE", "-certpbe", "NONE", "-nomac",
                    ],
                ),
            ];
            for (name, extra) in variants {
                let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
                args.extend(extra);
                o(&args);
                let label: &'static str = format!("{key}-{name}").leak();
                pfx.push((label, read("out.pfx")));
            }
        }

        let rsa_pkcs1 = o(&["pkey", "-in", "rsa.key", "-traditional"]);
        let ec_sec1 = o(&["ec", "-in", "ec.key"]);
        let ec_encrypted = o(&[
            "pkcs8",
            "-topk8",
            "-in",
            "ec.key",
            "-v2",
            "aes-256-cbc",
            "-passout",
            &pass,
        ]);
        let mut pem_import = vec![
            ("pem-rsa-pkcs8", cat(&["rsa.key", "rsa.pem", "chain.pem"])),
            (
                "pem-ec-pkcs8-key-last",
                cat(&["ec.pem", "int.pem", "root.pem", "ec.key"]),
            ),
        ];
        let mut with = |label: &'static str, key: &[u8], leaf: &str| {
            let mut bytes = key.to_vec();
            bytes.extend(read(leaf));
            bytes.extend(read("chain.pem"));
            pem_import.push((label, bytes));
        };
        with("pem-rsa-pkcs1", &rsa_pkcs1, "rsa.pem");
        with("pem-ec-sec1", &ec_sec1, "ec.pem");
        with("pem-ec-encrypted", &ec_encrypted, "ec.pem");

        let leaf_der = pem_to_der(&read("ec.pem"));
        let rsa_der = pem_to_der(&read("rsa.pem"));
        o(&[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "ec.pem",
            "-certfile",
            "chain.pem",
            "-outform",
            "DER",
            "-out",
            "chain.p7b",
        ]);
        o(&[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "root.pem",
            "-certfile",
            "rsa.pem",
            "-certfile",
            "int.pem",
            "-out",
            "chain.p7b.pem",
        ]);
        let merge = vec![
            ("cert-der", leaf_der.clone()),
            ("cert-pem", read("rsa.pem")),
            ("fullchain-pem", cat(&["int.pem", "ec.pem", "root.pem"])),
            ("p7b-der", read("chain.p7b")),
            ("p7b-pem", read("chain.p7b.pem")),
        ];
        let names_der = vec![
            ("leaf-subject", subject_der(&leaf_der)),
            ("rsa-subject", subject_der(&rsa_der)),
            ("int-subject", subject_der(&pem_to_der(&read("int.pem")))),
        ];
        let keys_der = ["rsa.key", "ec.key"]
            .iter()
            .map(|k| pem_to_der(&read(k)))
            .collect();

        Samples {
            dir,
            pfx,
            pem_import,
            merge,
            names_der,
            policies: policies(),
            subjects: SUBJECTS.to_vec(),
            documents: documents(),
            keys_der,
        }
    }

    /// The bytes of a work file in [`Self::dir`] (`ec.key`, `ec.pem`, `chain.pem`, ...).
    pub fn file(&self, name: &str) -> Vec<u8> {
        fs::read(self.dir.path().join(name)).unwrap()
    }

    /// Every sample of every kind, for tests that throw anything anywhere.
    pub fn all(&self) -> Vec<&Sample> {
        self.pfx
            .iter()
            .chain(&self.pem_import)
            .chain(&self.merge)
            .chain(&self.names_der)
            .chain(&self.policies)
            .chain(&self.documents)
            .collect()
    }
}

/// Subjects in Key Vault's syntax, including quoting, escapes, OIDs and multi-valued RDNs.
pub const SUBJECTS: &[&str] = &[
    "CN=www.contoso.com",
    "CN=web.example.com, O=\"Contoso, Inc.\", C=US",
    "CN=a; OU=Docs\\, Contoso; L=Seattle; ST=WA",
    "E=admin@contoso.com+CN=Admin, DC=contoso, DC=com",
    "OID.2.5.4.12=Manager, commonName=x, SERIALNUMBER=1234",
    "CN=\\2Cleading comma, STREET=1 Main St, POSTALCODE=98052",
    "CN=  spaced  , O= \"quoted \\\" inside\" ",
    "2.5.4.3=oid-named, UID=jdoe, DNQUALIFIER=q, PSEUDONYM=p",
    "CN=日本語.example, O=Ünïcødé",
];

fn policies() -> Vec<Sample> {
    vec![
        (
            "policy-rest-full",
            br#"{
  "key_props": {"kty": "EC-HSM", "key_size": 384, "crv": "P-384", "exportable": false, "reuse_key": true},
  "secret_props": {"contentType": "application/x-pem-file"},
  "x509_props": {
    "subject": "CN=www.contoso.com, O=\"Contoso, Inc.\"",
    "sans": {
      "dns_names": ["www.contoso.com", "contoso.com"],
      "emails": ["admin@contoso.com"],
      "upns": ["svc@contoso.com"],
      "ip_addresses": ["192.0.2.7", "2001:db8::1"],
      "uris": ["https://contoso.com/id"]
    },
    "ekus": ["1.3.6.1.5.5.7.3.1"],
    "key_usage": ["digitalSignature", "keyAgreement"],
    "validity_months": 24
  },
  "lifetime_actions": [{"trigger": {"days_before_expiry": 30}, "action": {"action_type": "EmailContacts"}}],
  "issuer": {"name": "DigiCert-OV", "cty": "OV-SSL", "cert_transparency": true},
  "attributes": {"enabled": true, "created": 1482188947, "updated": 1482188947}
}"#
            .to_vec(),
        ),
        (
            "policy-rest-rsa",
            br#"{"key_props":{"kty":"RSA","key_size":3072,"exportable":true},"x509_props":{"subject":"CN=web.example.com","validity_months":12},"lifetime_actions":[{"trigger":{"lifetime_percentage":80},"action":{"action_type":"AutoRenew"}}],"issuer":{"name":"Self"}}"#
                .to_vec(),
        ),
        (
            "policy-az-default",
            br#"{"issuerParameters":{"certificateTransparency":null,"certificateType":null,"name":"Self"},"keyProperties":{"curve":null,"exportable":true,"keySize":2048,"keyType":"RSA","reuseKey":true},"lifetimeActions":[{"action":{"actionType":"AutoRenew"},"trigger":{"daysBeforeExpiry":90}}],"secretProperties":{"contentType":"application/x-pkcs12"},"x509CertificateProperties":{"keyUsage":["cRLSign","dataEncipherment","digitalSignature","keyEncipherment","keyAgreement","keyCertSign"],"subject":"CN=CLIGetDefaultPolicy","validityInMonths":12}}"#
                .to_vec(),
        ),
        (
            "policy-az-sans",
            br#"{"keyProperties":{"keyType":"EC","curve":"P-256"},"x509CertificateProperties":{"subjectAlternativeNames":{"dnsNames":["a.example.com","*.example.com"],"ipAddresses":["10.0.0.1"]},"ekus":["1.3.6.1.5.5.7.3.2"]},"issuerParameters":{"name":"Unknown"}}"#
                .to_vec(),
        ),
    ]
}

fn documents() -> Vec<Sample> {
    vec![
        (
            "tags",
            r#"{"env": "prod", "team": "web", "empty": "", "unicode": "Ünïcødé"}"#.as_bytes().to_vec(),
        ),
        (
            "contacts",
            br#"{"contacts": [{"email": "ops@contoso.com", "name": "Ops", "phone": "+1 555 0100"}, {"email": "sec@contoso.com"}]}"#
                .to_vec(),
        ),
        (
            "issuer-digicert",
            br#"{"provider": "DigiCert", "credentials": {"account_id": "123", "pwd": "secret-api-key"}, "org_details": {"id": "456"}, "attributes": {"enabled": true}}"#
                .to_vec(),
        ),
        (
            "issuer-globalsign",
            br#"{"provider": "GlobalSign", "credentials": {"account_id": "acct", "pwd": "pw"}, "org_details": {"admin_details": [{"first_name": "A", "last_name": "B", "email": "a@b.example", "phone": "555"}]}}"#
                .to_vec(),
        ),
        (
            "hooks",
            br#"{"command": ["/usr/sbin/nginx", "-s", "reload"], "signal": "HUP", "pidfile": "/run/nginx.pid", "timeout_seconds": 30}"#
                .to_vec(),
        ),
        (
            "vault",
            br#"{"soft_delete_retention_days": 30, "purge_protection": true}"#.to_vec(),
        ),
        (
            "operation",
            br#"{"cancellation_requested": true}"#.to_vec(),
        ),
    ]
}

// ---- hostile encrypted keys, built by hand ----

/// A DER element: `tag`, definite length, `content`.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend(content);
    out
}

pub fn der_uint(value: u64) -> Vec<u8> {
    let mut bytes: Vec<u8> = value
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    if bytes.first().is_none_or(|&b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    der(0x02, &bytes)
}

/// An `ENCRYPTED PRIVATE KEY` (PBES2, AES-256-CBC) whose key derivation
/// is `kdf` (an AlgorithmIdentifier), as PEM text before `certificate_pem`, the
/// way a PEM import file holds it. The encrypted bytes are noise: the
/// question is whether certfs runs the derivation at all.
pub fn pem_with_encrypted_key(kdf: Vec<u8>, certificate_pem: &[u8]) -> Vec<u8> {
    const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
    const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
    let cipher = der(0x30, &[der(0x06, AES256_CBC), der(0x04, &[9; 16])].concat());
    let params = der(0x30, &[kdf, cipher].concat());
    let algorithm = der(0x30, &[der(0x06, PBES2), params].concat());
    let info = der(0x30, &[algorithm, der(0x04, &[0x5a; 48])].concat());
    let mut text = pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", info)).into_bytes();
    text.extend(certificate_pem);
    text
}

pub fn pbkdf2(iterations: u64) -> Vec<u8> {
    const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
    const HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
    let prf = der(0x30, &[der(0x06, HMAC_SHA256), vec![0x05, 0x00]].concat());
    let params = der(
        0x30,
        &[der(0x04, &[1; 8]), der_uint(iterations), prf].concat(),
    );
    der(0x30, &[der(0x06, PBKDF2), params].concat())
}

pub fn scrypt(n: u64, r: u64, p: u64) -> Vec<u8> {
    const SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
    let params = der(
        0x30,
        &[der(0x04, &[1; 8]), der_uint(n), der_uint(r), der_uint(p)].concat(),
    );
    der(0x30, &[der(0x06, SCRYPT), params].concat())
}
