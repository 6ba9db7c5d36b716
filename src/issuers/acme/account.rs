//! The ACME account: registered on first use (contact e-mail, external account binding), its credentials kept in the issuer memory and restored after restarts, replaced when the CA has forgotten it.
//!
//! The credentials (instant-acme's `AccountCredentials`: account URL,
//! PKCS#8 account key, directory URL) are stored as
//! `{"directory": <URL>, "credentials": {...}}`. They hold the account key:
//! they are never logged and have no `Debug`. A stored account for another
//! directory is not used (the issuer file's endpoint changed): a new one is
//! registered and replaces it.

use std::fmt;
use std::sync::Mutex;

use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use zeroize::Zeroizing;

use super::failure::{Failure, ca_error};
use super::transport::Transport;
use crate::issuers::{CaError, IssuerMemory};

/// An external account binding: the CA's key id and its base64url HMAC key.
#[derive(Clone)]
pub struct ExternalAccount {
    /// Key id.
    pub kid: String,
    /// The HMAC key, base64url as CAs hand it out.
    pub hmac_key: Zeroizing<String>,
}

impl fmt::Debug for ExternalAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccount")
            .field("kid", &self.kid)
            .field("hmac_key", &"<elided>")
            .finish()
    }
}

/// What the issuer memory holds.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// The provider's account at one directory.
pub(super) struct Accounts {
    directory_url: String,
    contact: Option<String>,
    eab: Option<ExternalAccount>,
    memory: Box<dyn IssuerMemory>,
    transport: Transport,
    current: Mutex<Option<Account>>,
}

impl Accounts {
    /// Accounts at `directory_url`, kept in `memory`.
    pub(super) fn new(
        directory_url: String,
        contact: Option<String>,
        eab: Option<ExternalAccount>,
        memory: Box<dyn IssuerMemory>,
        transport: Transport,
    ) -> Self {
        Accounts {
            directory_url,
            contact,
            eab,
            memory,
            transport,
            current: Mutex::new(None),
        }
    }

    /// The account: in use, restored from the memory, or registered now.
    pub(super) fn current(&self, runtime: &Runtime) -> Result<Account, CaError> {
        let mut slot = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(account) = slot.as_ref() {
            return Ok(account.clone());
        }
        let stored = self
            .memory
            .load()
            .map(Zeroizing::new)
            .and_then(|text| serde_json::from_str::<StoredAccount>(&text).ok())
            .filter(|s| s.directory == self.directory_url);
        let account = match stored {
            Some(stored) => runtime
                .block_on(
                    Account::builder_with_http(Box::new(self.transport.clone()))
                        .from_credentials(stored.credentials),
                )
                .map_err(|e| ca_error(Failure::Acme(e)))?,
            None => self.register(runtime)?,
        };
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Replaces `forgotten` (the CA said `accountDoesNotExist`) with a new
    /// account, unless another call already did.
    pub(super) fn replace(
        &self,
        runtime: &Runtime,
        forgotten: &Account,
    ) -> Result<Account, CaError> {
        let mut slot = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(account) = slot.as_ref().filter(|a| a.id() != forgotten.id()) {
            return Ok(account.clone());
        }
        log::warn!(
            "acme: {} no longer knows account {}; registering a new one",
            self.directory_url,
            forgotten.id()
        );
        let account = self.register(runtime)?;
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Registers a new account and stores its credentials.
    fn register(&self, runtime: &Runtime) -> Result<Account, CaError> {
        let contact = self.contact.as_ref().map(|c| format!("mailto:{c}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let eab = match &self.eab {
            Some(eab) => Some(ExternalAccountKey::new(
                eab.kid.clone(),
                &decode_hmac_key(&eab.hmac_key)?,
            )),
            None => None,
        };
        let new_account = NewAccount {
            contact: &contacts,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let (account, credentials) = runtime
            .block_on(
                Account::builder_with_http(Box::new(self.transport.clone())).create(
                    &new_account,
                    self.directory_url.clone(),
                    eab.as_ref(),
                ),
            )
            .map_err(|e| ca_error(Failure::Acme(e)))?;
        let stored = StoredAccount {
            directory: self.directory_url.clone(),
            credentials,
        };
        let text = Zeroizing::new(serde_json::to_string(&stored).unwrap_or_default());
        self.memory.save(&text);
        log::info!(
            "acme: registered account {} at {}",
            account.id(),
            self.directory_url
        );
        Ok(account)
    }
}

/// The EAB HMAC key: base64url as CAs hand it out (padding and the standard alphabet tolerated).
fn decode_hmac_key(key: &str) -> Result<Zeroizing<Vec<u8>>, CaError> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let trimmed = key.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(key.trim()))
        .map(Zeroizing::new)
        .map_err(|_| CaError::Rejected {
            code: "badExternalAccountBinding".into(),
            message: "eab.hmac_key is not base64url, as ACME CAs hand it out.".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_keys_decode_as_cas_hand_them_out() {
        let url = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
        assert_eq!(decode_hmac_key(url).unwrap().len(), 48);
        assert_eq!(
            decode_hmac_key("a-_b").unwrap().as_slice(),
            &[0x6b, 0xef, 0xdb]
        );
        assert_eq!(
            decode_hmac_key("a+/b").unwrap().as_slice(),
            &[0x6b, 0xef, 0xdb]
        );
        assert!(decode_hmac_key("not base64!").is_err());
    }

    #[test]
    fn the_hmac_key_stays_out_of_debug() {
        let eab = ExternalAccount {
            kid: "kid-1".into(),
            hmac_key: "c2VjcmV0LWhtYWM".to_owned().into(),
        };
        let shown = format!("{eab:?}");
        assert!(
            shown.contains("kid-1") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }
}
