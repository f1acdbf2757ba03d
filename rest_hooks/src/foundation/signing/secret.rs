//! Hook secrets: `whsec_` and the base64 of random key bytes, never printed.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::DeriveValueType;

/// The prefix of a secret's text form.
pub(crate) const PREFIX: &str = "whsec_";

/// How many random bytes a generated secret has (Standard Webhooks asks for 24 to 64).
const GENERATED_BYTES: usize = 32;

/// Standard base64 that encodes with padding and decodes as leniently as the Standard Webhooks
/// reference libraries: with or without padding, and ignoring the unused bits of the last
/// character (`…LaS` reads as `…LaQ=`), so that every secret they accept is accepted here.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

pub(crate) fn encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text).ok()
}

/// A signing secret in its text form, `whsec_…`. Its `Debug` and `Display` never show the value:
/// read it with [`expose`](Self::expose) to hand it to the receiver's owner.
///
/// ```
/// use rest_hooks::signing::Secret;
/// let secret = Secret::generate()?;
/// assert!(secret.expose().starts_with("whsec_"));
/// assert_eq!(format!("{secret:?}"), "Secret(redacted)");
/// # Ok::<(), rest_hooks::signing::SecretError>(())
/// ```
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct Secret(String);

/// The fewest key bytes a secret that signs may have (Standard Webhooks asks for 24 to 64). The
/// verifier accepts shorter ones: it checks what it is given.
pub const MIN_SIGNING_BYTES: usize = 24;

impl Secret {
    /// Checks that this secret is long enough to sign with.
    pub(crate) fn check_signing_length(&self) -> Result<(), SecretError> {
        let bytes = key_bytes(&self.0)?.len();
        if bytes < MIN_SIGNING_BYTES { Err(SecretError::TooShort(bytes)) } else { Ok(()) }
    }

    /// A new secret of 32 random bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Secret, SecretError> {
        let mut bytes = [0u8; GENERATED_BYTES];
        SystemRandom::new().fill(&mut bytes).map_err(|_| SecretError::Random)?;
        Ok(Secret(format!("{PREFIX}{}", encode(&bytes))))
    }

    /// Reads a secret given with or without `whsec_`, its base64 padded or not, unused bits in
    /// its last character ignored. It is kept as `whsec_` and padded base64.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let bytes = key_bytes(text)?;
        Ok(Secret(format!("{PREFIX}{}", encode(&bytes))))
    }

    /// The secret's text, `whsec_…`, to show to the owner of the receiving end. Keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC-SHA256 key.
    pub(crate) fn key(&self) -> Result<hmac::Key, SecretError> {
        Ok(hmac::Key::new(hmac::HMAC_SHA256, &key_bytes(&self.0)?))
    }
}

/// The key bytes of a secret's text form.
pub(crate) fn key_bytes(text: &str) -> Result<Vec<u8>, SecretError> {
    let encoded = text.trim();
    let encoded = encoded.strip_prefix(PREFIX).unwrap_or(encoded);
    if encoded.is_empty() {
        return Err(SecretError::Empty);
    }
    match decode(encoded) {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(SecretError::NotBase64),
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whsec_(redacted)")
    }
}

/// A secret could not be made or read. The messages never contain the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is empty (`""` or `"whsec_"`).
    #[error("the secret is empty")]
    Empty,
    /// The part after `whsec_` is not base64.
    #[error("the secret is not `whsec_` followed by base64")]
    NotBase64,
    /// A hook has no secret to sign with, and the engine has no fallback secret.
    #[error(
        "the hook has no signing secret: give the hook entity one (`HookEntity::secrets`), set \
         `Builder::fallback_secret`, or turn signing off with `Builder::unsigned`"
    )]
    Missing,
    /// A secret that signs is shorter than [`MIN_SIGNING_BYTES`].
    #[error("the secret has {0} bytes; a signing secret needs at least 24")]
    TooShort(usize),
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_differ_and_parse_back() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(Secret::parse(a.expose()).unwrap(), a);
        assert_eq!(key_bytes(a.expose()).unwrap().len(), GENERATED_BYTES);
    }

    #[test]
    fn parses_with_or_without_prefix_and_padding() {
        let padded = Secret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX").unwrap();
        assert_eq!(Secret::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX").unwrap(), padded);
        let short = Secret::parse("whsec_AAEC").unwrap();
        assert_eq!(Secret::parse("whsec_AAE").unwrap().expose(), "whsec_AAE=");
        assert_ne!(short, padded);
        assert_eq!(Secret::parse(""), Err(SecretError::Empty));
        assert_eq!(Secret::parse("whsec_"), Err(SecretError::Empty));
        assert_eq!(Secret::parse("whsec_not base64!"), Err(SecretError::NotBase64));
    }

    #[test]
    fn unused_trailing_bits_are_ignored_as_the_reference_libraries_do() {
        let canonical = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaQ=").unwrap();
        for lenient in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaR",
        ] {
            assert_eq!(Secret::parse(lenient).as_ref(), Ok(&canonical), "{lenient}");
        }
        assert_eq!(key_bytes("whsec_AAF").unwrap(), key_bytes("AAE=").unwrap());
        // A lone last character carries no whole byte: still not base64.
        assert_eq!(Secret::parse("whsec_AAAAA"), Err(SecretError::NotBase64));
    }

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        for shown in [format!("{secret:?}"), format!("{secret}"), format!("{:?}", Some(vec![secret.clone()]))] {
            assert!(!shown.contains("MfKQ"), "{shown}");
        }
    }
}
