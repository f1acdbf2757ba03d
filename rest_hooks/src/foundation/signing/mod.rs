//! Signing and verifying webhooks per [Standard Webhooks](https://www.standardwebhooks.com/) v1.
//!
//! Every delivery carries `webhook-id` (the same on every attempt), `webhook-timestamp` (this
//! attempt, Unix seconds) and `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
//! `"{id}.{timestamp}.{body}"` under each secret that signs, space-separated. Secrets are
//! `whsec_` and the base64 of their key bytes; the sender's side is the [`Signer`] the engine's
//! HTTP deliverer uses, the receiver's side the [`Verifier`] (and, with the `axum` feature, the
//! [`Verified`] extractor).
//!
//! HMAC, randomness and the constant-time comparison come from `ring`, which the TLS stack
//! already brings. A receiver needs no engine and no database driver: depend on this crate with
//! `default-features = false` (and the `axum` feature for the extractor).

#[cfg(feature = "axum")]
mod extract;
pub(crate) mod secret;
mod verify;

/// The header map [`Verifier::verify`] reads: `http`'s, the same type as axum's, hyper's and
/// reqwest's.
pub use reqwest::header::HeaderMap;
use ring::hmac;

#[cfg(feature = "axum")]
pub use extract::{Verified, VerifiedRejection};
pub use secret::{MIN_SIGNING_BYTES, Secret, SecretError};
pub use verify::{DEFAULT_TOLERANCE, MAX_SIGNATURES, Verifier, VerifyError};

use crate::foundation::wire::Request;

/// The header carrying the message id.
pub const ID_HEADER: &str = "webhook-id";
/// The header carrying the attempt's Unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The text that is signed: `"{id}.{timestamp}.{body}"`, as bytes.
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// One `v1,…` signature of `body` sent as message `id` at `timestamp` under `secret`.
///
/// ```
/// use rest_hooks::signing::{Secret, sign};
/// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#)?;
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), rest_hooks::signing::SecretError>(())
/// ```
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
    let key = secret.key()?;
    Ok(sign_with(&key, id, &timestamp.to_string(), body))
}

fn sign_with(key: &hmac::Key, id: &str, timestamp: &str, body: &[u8]) -> String {
    let tag = hmac::sign(key, &signed_content(id, timestamp, body));
    format!("v1,{}", secret::encode(tag.as_ref()))
}

/// The `webhook-signature` value for `secrets`: one `v1,…` entry per secret, space-separated.
/// Empty when there is no secret.
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
    let timestamp = timestamp.to_string();
    let mut entries = Vec::with_capacity(secrets.len());
    for secret in secrets {
        entries.push(sign_with(&secret.key()?, id, &timestamp, body));
    }
    Ok(entries.join(" "))
}

/// Adds signature headers to a request the HTTP deliverer is about to send. The default is
/// [`StandardWebhooks`]; implement it for a legacy scheme and pass it to
/// [`Builder::signer`](crate::Builder::signer).
pub trait Signer: Send + Sync + 'static {
    /// The headers to add to `request`, sent at `timestamp` (Unix seconds, also sent as
    /// `webhook-timestamp`). `request.body` is the exact body sent.
    fn headers(&self, request: &Request, timestamp: i64) -> Result<Vec<(String, String)>, SecretError>;
}

/// Standard Webhooks v1 signatures under the hook's secrets (two while a rotated secret is still in
/// its grace period), or under a fallback secret for hooks that have none. A hook with neither is
/// not sent unsigned: the attempt fails with [`SecretError::Missing`].
#[derive(Clone, Debug, Default)]
pub struct StandardWebhooks {
    fallback: Option<Secret>,
}

impl StandardWebhooks {
    /// A signer that signs hooks without a secret of their own with `fallback`; without one, their
    /// deliveries fail rather than go out unsigned.
    pub fn with_fallback(fallback: Option<Secret>) -> Self {
        Self { fallback }
    }
}

impl Signer for StandardWebhooks {
    fn headers(&self, request: &Request, timestamp: i64) -> Result<Vec<(String, String)>, SecretError> {
        let secrets = match (&request.hook.secrets[..], &self.fallback) {
            ([], Some(fallback)) => std::slice::from_ref(fallback),
            (secrets, _) => secrets,
        };
        if secrets.is_empty() {
            return Err(SecretError::Missing);
        }
        let value = signature_header(secrets, &request.message_id(), timestamp, request.body.as_bytes())?;
        Ok(vec![(SIGNATURE_HEADER.to_owned(), value)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_reference_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let header = signature_header(
            &[secret.clone(), secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        let one = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(header, format!("{one} {one}"));
        assert_eq!(signature_header(&[], "msg_1", 1, b"").unwrap(), "");
    }
}
