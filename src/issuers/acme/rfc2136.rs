//! Answering dns-01 challenges by RFC 2136 dynamic update signed with TSIG (RFC 8945), through `hickory-proto`'s messages and signer.
//!
//! Every message goes to the one configured server over TCP (an update
//! with its TSIG record can outgrow a UDP answer, and TCP needs no
//! retransmission logic). For a name certfs:
//!
//! 1. asks the server for a CNAME at `_acme-challenge.<name>` and follows
//!    it (a few hops at most): the record goes where it points;
//! 2. asks the server for the SOA of that name to learn its zone;
//! 3. adds the TXT record with an update signed by the TSIG key;
//! 4. asks the server for the TXT records until it answers the value
//!    (`propagation_timeout_s` at most).
//!
//! Withdrawing deletes exactly that value (RFC 2136 §2.5.4), so the
//! records of a wildcard and its apex, which share one name, come and go
//! independently. Answers to updates are checked against the key.
//!
//! The TSIG secret lives in a [`Zeroizing`] buffer and appears in no
//! `Debug`, log line or error text.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, update_message};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, RecordSet, RecordType};
use zeroize::Zeroizing;

/// How long one exchange with the server may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The TTL of the TXT records (short: they live for one validation).
const TTL: u32 = 60;
/// The TSIG fudge: how far the clocks of certfs and the server may differ.
const FUDGE: u16 = 300;
/// How many CNAMEs are followed from `_acme-challenge.<name>`.
const MAX_CNAMES: usize = 8;

/// Where and how dns-01 records are written.
#[derive(Clone, PartialEq, Eq)]
pub struct Rfc2136 {
    /// The authoritative server that takes updates and answers queries.
    pub server: SocketAddr,
    /// The TSIG key's name, as the server knows it.
    pub key_name: String,
    /// `hmac-sha256` or `hmac-sha512`.
    pub algorithm: TsigKeyAlgorithm,
    /// The TSIG key itself (decoded from base64).
    pub secret: Zeroizing<Vec<u8>>,
    /// How long to wait for the server to answer a record added.
    pub propagation_timeout: Duration,
}

impl fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rfc2136")
            .field("server", &self.server)
            .field("key_name", &self.key_name)
            .field("algorithm", &self.algorithm)
            .field("propagation_timeout", &self.propagation_timeout)
            .finish_non_exhaustive()
    }
}

/// The TSIG algorithms certfs signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigKeyAlgorithm {
    /// `hmac-sha256`.
    HmacSha256,
    /// `hmac-sha512`.
    HmacSha512,
}

impl TsigKeyAlgorithm {
    /// The algorithm an issuer file names (`hmac-sha256`, `hmac-sha512`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().trim_end_matches('.') {
            "hmac-sha256" => Some(TsigKeyAlgorithm::HmacSha256),
            "hmac-sha512" => Some(TsigKeyAlgorithm::HmacSha512),
            _ => None,
        }
    }

    fn hickory(self) -> TsigAlgorithm {
        match self {
            TsigKeyAlgorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
            TsigKeyAlgorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
        }
    }
}

/// Why a dns-01 record could not be written, found or removed.
#[derive(Debug)]
pub enum DnsError {
    /// The server could not be reached or did not answer in time: retried.
    Unreachable {
        server: SocketAddr,
        source: io::Error,
    },
    /// The server answered with an error code (REFUSED, NOTAUTH, NOTZONE…):
    /// it will not change its mind.
    Refused {
        server: SocketAddr,
        doing: String,
        code: ResponseCode,
    },
    /// The server's answer could not be read or was not signed by the key.
    BadAnswer { server: SocketAddr, why: String },
    /// The server did not answer the record within the propagation timeout.
    NotAnswered {
        server: SocketAddr,
        name: String,
        waited: Duration,
    },
    /// A name or the key's name is not a DNS name, or the key cannot sign.
    Setup(String),
}

impl DnsError {
    /// Whether trying again later may help (the server was down).
    pub fn is_transient(&self) -> bool {
        matches!(self, DnsError::Unreachable { .. })
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Unreachable { server, source } => {
                write!(f, "the DNS server {server} cannot be reached: {source}")
            }
            DnsError::Refused {
                server,
                doing,
                code,
            } => write!(
                f,
                "the DNS server {server} refused to {doing}: {} ({code}: {})",
                mnemonic(*code),
                meaning(*code)
            ),
            DnsError::BadAnswer { server, why } => {
                write!(f, "the DNS server {server} answered badly: {why}")
            }
            DnsError::NotAnswered {
                server,
                name,
                waited,
            } => write!(
                f,
                "the DNS server {server} did not answer the TXT record at {name} within {}s (propagation_timeout_s)",
                waited.as_secs()
            ),
            DnsError::Setup(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DnsError::Unreachable { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An RCODE as RFC 1035 and RFC 2136 spell it (`NOTAUTH`), as `dig` and
/// `nsupdate` show it.
fn mnemonic(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("RCODE {}", u16::from(other)),
    }
}

/// What an RCODE means for an update, in words.
fn meaning(code: ResponseCode) -> &'static str {
    match code {
        ResponseCode::NotAuth => {
            "the server does not accept the TSIG key or its signature, or is not authoritative for the zone"
        }
        ResponseCode::Refused => "the key may not update this name",
        ResponseCode::NotZone => "the name is not in the zone",
        ResponseCode::ServFail => "the server failed",
        ResponseCode::FormErr => "the server could not read the message",
        ResponseCode::NotImp => "the server does not take dynamic updates",
        ResponseCode::YXRRSet | ResponseCode::NXRRSet | ResponseCode::YXDomain => {
            "a prerequisite failed"
        }
        _ => "an error",
    }
}

/// A record published for one challenge: where it went and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The name the TXT record was written at (after CNAMEs).
    pub name: String,
    /// The zone that holds it.
    pub zone: String,
}

impl Rfc2136 {
    /// Publishes `value` at `_acme-challenge.<domain>` (or where its CNAME
    /// points) and waits until the server answers it.
    pub fn publish(&self, domain: &str, value: &str) -> Result<Published, DnsError> {
        let (name, zone) = self.locate(domain)?;
        let mut rrset = RecordSet::with_ttl(name.clone(), RecordType::TXT, TTL);
        rrset.add_rdata(RData::TXT(TXT::new(vec![value.to_owned()])));
        let update = update_message::append(rrset, zone.clone(), false, false);
        self.update(update, &format!("add the TXT record at {name}"))?;
        log::info!("acme: added a dns-01 TXT record at {name} (zone {zone})");
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            if self.txt_values(&name)?.iter().any(|v| v == value) {
                return Ok(Published {
                    name: name.to_ascii(),
                    zone: zone.to_ascii(),
                });
            }
            if started.elapsed() >= self.propagation_timeout {
                return Err(DnsError::NotAnswered {
                    server: self.server,
                    name: name.to_ascii(),
                    waited: self.propagation_timeout,
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Removes `value` from `_acme-challenge.<domain>` (or where its CNAME points).
    pub fn withdraw(&self, domain: &str, value: &str) -> Result<(), DnsError> {
        let (name, zone) = self.locate(domain)?;
        let mut rrset = RecordSet::with_ttl(name.clone(), RecordType::TXT, 0);
        rrset.add_rdata(RData::TXT(TXT::new(vec![value.to_owned()])));
        let update = update_message::delete_by_rdata(rrset, zone, false);
        self.update(update, &format!("remove the TXT record at {name}"))?;
        log::info!("acme: removed a dns-01 TXT record at {name}");
        Ok(())
    }

    /// The TXT values the server answers at `<name>` (exactly that name).
    pub fn txt_values(&self, name: &Name) -> Result<Vec<String>, DnsError> {
        let answer = self.query(name, RecordType::TXT)?;
        Ok(answer
            .answers()
            .iter()
            .filter(|r| r.name() == name)
            .filter_map(|r| match r.data() {
                RData::TXT(txt) => Some(
                    txt.txt_data()
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Where the record for `domain` goes: the name after CNAMEs and its zone.
    pub fn locate(&self, domain: &str) -> Result<(Name, Name), DnsError> {
        let domain = domain.trim_start_matches("*.");
        let mut name = Name::from_ascii(format!("_acme-challenge.{domain}."))
            .map_err(|e| DnsError::Setup(format!("'{domain}' is not a DNS name: {e}")))?;
        for _ in 0..MAX_CNAMES {
            let answer = self.query(&name, RecordType::CNAME)?;
            let target = answer
                .answers()
                .iter()
                .filter(|r| r.name() == &name)
                .find_map(|r| match r.data() {
                    RData::CNAME(c) => Some(c.0.clone()),
                    _ => None,
                });
            match target {
                Some(target) => {
                    log::debug!("acme: {name} is a CNAME to {target}");
                    name = target;
                }
                None => break,
            }
        }
        let zone = self.zone_of(&name)?;
        Ok((name, zone))
    }

    /// The zone holding `name`, as the server says (the owner of the SOA it
    /// answers or gives as authority).
    fn zone_of(&self, name: &Name) -> Result<Name, DnsError> {
        let answer = self.query(name, RecordType::SOA)?;
        answer
            .answers()
            .iter()
            .chain(answer.name_servers())
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name().clone())
            .ok_or_else(|| DnsError::Refused {
                server: self.server,
                doing: format!("name a zone for {name}"),
                code: if answer.response_code() == ResponseCode::NoError {
                    ResponseCode::Refused
                } else {
                    answer.response_code()
                },
            })
    }

    /// One query to the server (not recursive).
    fn query(&self, name: &Name, kind: RecordType) -> Result<Message, DnsError> {
        let mut message = Message::new();
        message
            .set_id(rand_id())
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(false)
            .add_query(Query::query(name.clone(), kind));
        let bytes = message
            .to_vec()
            .map_err(|e| DnsError::Setup(e.to_string()))?;
        let answer = self.exchange(&bytes)?;
        let answer = Message::from_vec(&answer).map_err(|e| DnsError::BadAnswer {
            server: self.server,
            why: e.to_string(),
        })?;
        match answer.response_code() {
            ResponseCode::NoError | ResponseCode::NXDomain => Ok(answer),
            code => Err(DnsError::Refused {
                server: self.server,
                doing: format!("answer {kind} at {name}"),
                code,
            }),
        }
    }

    /// Signs and sends an update; checks the answer is signed by the key.
    fn update(&self, mut message: Message, doing: &str) -> Result<(), DnsError> {
        let signer = self.signer()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as u32;
        let verifier = message
            .finalize(&signer, now)
            .map_err(|e| DnsError::Setup(format!("cannot sign the update: {e}")))?;
        let bytes = message
            .to_vec()
            .map_err(|e| DnsError::Setup(format!("cannot encode the update: {e}")))?;
        let answer = self.exchange(&bytes)?;
        let parsed = Message::from_vec(&answer).map_err(|e| DnsError::BadAnswer {
            server: self.server,
            why: e.to_string(),
        })?;
        if parsed.response_code() != ResponseCode::NoError {
            return Err(DnsError::Refused {
                server: self.server,
                doing: doing.to_owned(),
                code: parsed.response_code(),
            });
        }
        if let Some(mut verify) = verifier {
            verify(&answer).map_err(|_| DnsError::BadAnswer {
                server: self.server,
                why: "its answer to the update is not signed by the TSIG key".into(),
            })?;
        }
        Ok(())
    }

    fn signer(&self) -> Result<TSigner, DnsError> {
        let key_name = Name::from_ascii(&self.key_name).map_err(|e| {
            DnsError::Setup(format!(
                "tsig_key_name '{}' is not a DNS name: {e}",
                self.key_name
            ))
        })?;
        TSigner::new(
            self.secret.to_vec(),
            self.algorithm.hickory(),
            key_name,
            FUDGE,
        )
        .map_err(|_| DnsError::Setup("the TSIG algorithm cannot sign".into()))
    }

    /// Sends one message over TCP (RFC 1035 §4.2.2) and reads the answer.
    fn exchange(&self, message: &[u8]) -> Result<Vec<u8>, DnsError> {
        let unreachable = |source| DnsError::Unreachable {
            server: self.server,
            source,
        };
        let mut stream =
            TcpStream::connect_timeout(&self.server, EXCHANGE_TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(EXCHANGE_TIMEOUT))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(EXCHANGE_TIMEOUT))
            .map_err(unreachable)?;
        let length = u16::try_from(message.len())
            .map_err(|_| DnsError::Setup("the message is too long".into()))?;
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&length.to_be_bytes());
        framed.extend_from_slice(message);
        stream.write_all(&framed).map_err(unreachable)?;
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).map_err(unreachable)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut answer).map_err(unreachable)?;
        Ok(answer)
    }
}

/// A message id that differs from one message to the next.
fn rand_id() -> u16 {
    let mut id = [0u8; 2];
    if aws_lc_rs::rand::fill(&mut id).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        return nanos as u16;
    }
    u16::from_be_bytes(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_are_named_as_bind_names_them() {
        assert_eq!(
            TsigKeyAlgorithm::parse("hmac-sha256"),
            Some(TsigKeyAlgorithm::HmacSha256)
        );
        assert_eq!(
            TsigKeyAlgorithm::parse("HMAC-SHA512."),
            Some(TsigKeyAlgorithm::HmacSha512)
        );
        assert_eq!(TsigKeyAlgorithm::parse("hmac-md5"), None);
    }

    #[test]
    fn the_secret_stays_out_of_debug() {
        let settings = Rfc2136 {
            server: "127.0.0.1:53".parse().unwrap(),
            key_name: "certfs.".into(),
            algorithm: TsigKeyAlgorithm::HmacSha256,
            secret: Zeroizing::new(b"very-secret-bytes".to_vec()),
            propagation_timeout: Duration::from_secs(5),
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("118, 101, 114"), "{shown}");
        assert!(shown.contains("certfs."), "{shown}");
    }

    #[test]
    fn a_server_that_is_down_is_transient() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = closed.local_addr().unwrap();
        drop(closed);
        let settings = Rfc2136 {
            server,
            key_name: "certfs.".into(),
            algorithm: TsigKeyAlgorithm::HmacSha256,
            secret: Zeroizing::new(vec![1; 32]),
            propagation_timeout: Duration::from_secs(1),
        };
        let err = settings.publish("example.test", "v").unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains(&server.to_string()), "{err}");
    }
}
