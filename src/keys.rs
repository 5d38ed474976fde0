//! Keys for data that outlives an API token: the suppression hashes of erased people and
//! the signatures in campaign links. One key per purpose, stored in the database
//! (`server_keys`), so they travel with its backups, every instance shares them, and
//! rotating the token secret (`RAPPORT_JWT_SECRET`) never changes them.

use hmac::{Hmac, Mac};

/// What a data key is for. Each purpose has its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Suppression hashes of erased people's emails.
    SuppressionEmail,
    /// Suppression hashes of erased people's phone numbers.
    SuppressionPhone,
    /// A campaign contact's unsubscribe token, derived from its tracking token.
    CampaignUnsubscribe,
    /// The signature of a tracked link in campaign content.
    CampaignClick,
}

impl Purpose {
    pub const ALL: [Purpose; 4] =
        [Purpose::SuppressionEmail, Purpose::SuppressionPhone, Purpose::CampaignUnsubscribe, Purpose::CampaignClick];

    /// The name stored in `server_keys.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SuppressionEmail => "suppression-email",
            Purpose::SuppressionPhone => "suppression-phone",
            Purpose::CampaignUnsubscribe => "campaign-unsubscribe",
            Purpose::CampaignClick => "campaign-click",
        }
    }

    pub fn parse(text: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|purpose| purpose.as_str() == text)
    }

    /// The prefix of every hashed message (`label:value`); the same as when the token
    /// secret keyed these hashes, so hashes made then stay valid under a seeded key.
    fn label(self) -> &'static str {
        match self {
            Purpose::SuppressionEmail => "email",
            Purpose::SuppressionPhone => "phone",
            Purpose::CampaignUnsubscribe => "campaign-unsubscribe",
            Purpose::CampaignClick => "campaign-click",
        }
    }
}

/// The data keys, one per purpose.
pub struct DataKeys {
    keys: [Vec<u8>; 4],
}

impl DataKeys {
    /// Keys from `(purpose, key)` pairs as stored; every purpose must be present.
    pub fn from_stored<'a>(stored: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<DataKeys, String> {
        let mut keys: [Option<Vec<u8>>; 4] = Default::default();
        for (name, key) in stored {
            if let Some(purpose) = Purpose::parse(name) {
                keys[index(purpose)] = Some(key.to_vec());
            }
        }
        let missing: Vec<&str> =
            Purpose::ALL.into_iter().filter(|purpose| keys[index(*purpose)].is_none()).map(Purpose::as_str).collect();
        if !missing.is_empty() {
            return Err(format!("the database holds no key for {}", missing.join(", ")));
        }
        Ok(DataKeys { keys: keys.map(|key| key.expect("checked above")) })
    }

    /// HMAC-SHA256 of `label:value` with the purpose's key, as hex: a keyed hash that
    /// identifies a value without storing it.
    pub fn keyed_hash(&self, purpose: Purpose, value: &str) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.keys[index(purpose)]).expect("HMAC takes any key");
        mac.update(purpose.label().as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }

    /// Whether any purpose's key is `secret` (a key seeded from a token secret).
    pub fn contains_key(&self, secret: &[u8]) -> bool {
        self.keys.iter().any(|key| key == secret)
    }
}

fn index(purpose: Purpose) -> usize {
    Purpose::ALL.iter().position(|p| *p == purpose).expect("every purpose is in ALL")
}

/// 256 random bits, for a purpose whose key protects nothing yet.
pub fn random_key() -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(key: &[u8]) -> DataKeys {
        DataKeys::from_stored(Purpose::ALL.map(|purpose| (purpose.as_str(), key))).unwrap()
    }

    #[test]
    fn purposes_round_trip() {
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(Purpose::parse("email"), None);
    }

    #[test]
    fn a_key_seeded_from_a_secret_gives_the_hashes_that_secret_gave() {
        // HMAC-SHA256(secret, "email:ana@example.com"), as the token secret keyed it.
        let secret = b"test-secret-0123456789abcdef0123456789abcdef";
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(b"email:ana@example.com");
        let before = to_hex(&mac.finalize().into_bytes());
        assert_eq!(keys(secret).keyed_hash(Purpose::SuppressionEmail, "ana@example.com"), before);
    }

    #[test]
    fn purposes_and_keys_give_different_hashes() {
        let one = keys(&[1u8; 32]);
        let email = one.keyed_hash(Purpose::SuppressionEmail, "x");
        assert_ne!(email, one.keyed_hash(Purpose::SuppressionPhone, "x"));
        assert_ne!(email, keys(&[2u8; 32]).keyed_hash(Purpose::SuppressionEmail, "x"));
        assert_eq!(email.len(), 64);
        assert!(one.contains_key(&[1u8; 32]) && !one.contains_key(&[2u8; 32]));
    }

    #[test]
    fn every_purpose_needs_a_key() {
        let partial = [(Purpose::SuppressionEmail.as_str(), &[1u8; 32][..])];
        let error = DataKeys::from_stored(partial).err().unwrap();
        assert!(error.contains("suppression-phone") && error.contains("campaign-click"), "{error}");
    }

    #[test]
    fn hex_round_trip() {
        let key = random_key();
        assert_eq!(key.len(), 32);
        assert_eq!(from_hex(&to_hex(&key)), Some(key));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
