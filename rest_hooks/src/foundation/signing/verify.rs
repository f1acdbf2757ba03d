//! The receiver's side: checking that a request was signed with a secret it knows, recently.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use ring::hmac;
use subtle::ConstantTimeEq;

use super::secret::{Secret, SecretError, decode, key_bytes};
use super::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_content};

/// The most entries a `webhook-signature` header may hold; senders use one, or two while they
/// rotate. More is refused before any HMAC is computed, so a long header cannot cost much.
pub const MAX_SIGNATURES: usize = 16;

/// The start of an untrusted header value, for an error message.
fn excerpt(value: &str) -> String {
    const MAX: usize = 32;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// How far a timestamp may be from the receiver's clock, either way: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Checks Standard Webhooks signatures with one or more secrets (several while the sender rotates).
/// Usable without an engine.
///
/// ```
/// use rest_hooks::signing::{Secret, Verifier, VerifyError, signature_header};
/// let secret = Secret::generate()?;
/// let verifier = Verifier::new(secret.expose())?;
/// let now = 1_700_000_000;
/// let signature = signature_header(&[secret], "msg_1", now, b"{}")?;
/// assert_eq!(verifier.verify_parts("msg_1", &now.to_string(), &signature, b"{}", now), Ok(()));
/// assert_eq!(verifier.verify_parts("msg_1", &now.to_string(), &signature, b"{ }", now), Err(VerifyError::BadSignature));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<hmac::Key>,
    tolerance: Duration,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("secrets", &self.keys.len()).field("tolerance", &self.tolerance).finish()
    }
}

impl Verifier {
    /// A verifier for one secret, given with or without `whsec_`, padded or not, read as leniently
    /// as [`Secret::parse`] reads it.
    pub fn new(secret: &str) -> Result<Verifier, SecretError> {
        Verifier::with_secrets([secret])
    }

    /// A verifier that accepts a signature made with any of `secrets`. At least one is needed.
    pub fn with_secrets<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Result<Verifier, SecretError> {
        let mut keys = Vec::new();
        for secret in secrets {
            keys.push(hmac::Key::new(hmac::HMAC_SHA256, &key_bytes(secret.as_ref())?));
        }
        if keys.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Verifier { keys, tolerance: DEFAULT_TOLERANCE })
    }

    /// How far the timestamp may be from now, either way. Default: [`DEFAULT_TOLERANCE`], 5 minutes.
    pub fn tolerance(mut self, tolerance: Duration) -> Verifier {
        self.tolerance = tolerance;
        self
    }

    /// Checks the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers against `body`,
    /// the exact bytes received, at the current time.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        self.verify_at(headers, body, chrono::Utc::now().timestamp())
    }

    /// [`verify`](Self::verify) as if the time were `now` (Unix seconds).
    pub fn verify_at(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .ok_or(VerifyError::MissingHeader(name))?
                .to_str()
                .map_err(|_| VerifyError::InvalidHeader(name))
        };
        self.verify_parts(header(ID_HEADER)?, header(TIMESTAMP_HEADER)?, header(SIGNATURE_HEADER)?, body, now)
    }

    /// Checks the three header values against `body` at time `now` (Unix seconds). Entries of the
    /// signature header with another version than `v1` are ignored; any matching `v1` entry accepts.
    pub fn verify_parts(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let sent: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp(excerpt(timestamp)))?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if sent < now.saturating_sub(tolerance) {
            return Err(VerifyError::TooOld { timestamp: sent, now });
        }
        if sent > now.saturating_add(tolerance) {
            return Err(VerifyError::TooNew { timestamp: sent, now });
        }
        let entries: Vec<&str> = signature.split(' ').filter(|entry| !entry.is_empty()).collect();
        if entries.len() > MAX_SIGNATURES {
            return Err(VerifyError::TooManySignatures(entries.len()));
        }
        // One HMAC per key, whatever the header holds; each v1 entry is then compared with every
        // expected tag in constant time.
        let content = signed_content(id, timestamp, body);
        let expected: Vec<hmac::Tag> = self.keys.iter().map(|key| hmac::sign(key, &content)).collect();
        let mut matched = subtle::Choice::from(0);
        for tag in entries.iter().filter_map(|entry| entry.strip_prefix("v1,")).filter_map(decode) {
            for want in &expected {
                matched |= want.as_ref().ct_eq(&tag[..]);
            }
        }
        if bool::from(matched) {
            return Ok(());
        }
        Err(VerifyError::BadSignature)
    }
}

impl TryFrom<&Secret> for Verifier {
    type Error = SecretError;

    /// A verifier for `secret`; fails only for a secret read from storage that is not valid.
    fn try_from(secret: &Secret) -> Result<Verifier, SecretError> {
        Verifier::new(secret.expose())
    }
}

/// Why a request was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("header `{0}` is missing")]
    MissingHeader(&'static str),
    /// A header is not visible ASCII.
    #[error("header `{0}` is not visible ASCII")]
    InvalidHeader(&'static str),
    /// `webhook-signature` holds more than [`MAX_SIGNATURES`] entries.
    #[error("header `webhook-signature` holds {0} entries; at most 16 are accepted")]
    TooManySignatures(usize),
    /// `webhook-timestamp` is not an integer.
    #[error("timestamp `{0}` is not an integer number of seconds")]
    BadTimestamp(String),
    /// The timestamp is further in the past than the tolerance.
    #[error("timestamp {timestamp} is too old (now is {now})")]
    TooOld {
        /// The timestamp sent.
        timestamp: i64,
        /// The receiver's time.
        now: i64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp {timestamp} is in the future (now is {now})")]
    TooNew {
        /// The timestamp sent.
        timestamp: i64,
        /// The receiver's time.
        now: i64,
    },
    /// No `v1` signature matches any secret.
    #[error("no signature matches")]
    BadSignature,
}
