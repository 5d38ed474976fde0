//! Bearer JWT authentication (HS256) and scope checks.

use std::marker::PhantomData;
use std::path::Path;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::Utc;
use futures_util::future::{ready, Ready};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 30;
pub const MIN_SECRET_BYTES: usize = 32;

/// Declares every scope once: the `Scope` enum, its wire names, and one marker type per
/// scope in `scopes` for `Authorized<scopes::CustomersRead>`.
macro_rules! declare_scopes {
    ($($(#[$meta:meta])* $name:ident => $text:literal),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Scope {
            $($(#[$meta])* $name),+
        }

        impl Scope {
            pub const ALL: &'static [Scope] = &[$(Scope::$name),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Scope::$name => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Scope> {
                match text { $($text => Some(Scope::$name),)+ _ => None }
            }
        }

        /// One marker type per scope, for `Authorized<scopes::CustomersRead>`.
        pub mod scopes {
            use super::{RequiredScope, Scope};
            $(
                pub struct $name;
                impl RequiredScope for $name {
                    const SCOPE: Scope = Scope::$name;
                }
            )+
        }
    };
}

declare_scopes!(
    CustomersRead => "customers:read",
    CustomersWrite => "customers:write",
    ConsentsWrite => "consents:write",
    OrdersRead => "orders:read",
    OrdersWrite => "orders:write",
    ProductsWrite => "products:write",
    CampaignsRead => "campaigns:read",
    CampaignsWrite => "campaigns:write",
    AnalyticsRead => "analytics:read",
    FormsSubmit => "forms:submit",
    EventsRead => "events:read",
    WebhooksWrite => "webhooks:write",
    /// Implies every other scope.
    Admin => "admin",
);

/// The claims rapport signs and expects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    /// Space-separated scopes, as in OAuth 2.0.
    #[serde(default)]
    pub scope: String,
}

/// Who is calling, once the token checked out.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    scopes: Vec<Scope>,
}

impl Caller {
    /// Whether the token carries this one scope and nothing else.
    pub fn has_only(&self, scope: Scope) -> bool {
        self.scopes.iter().all(|s| *s == scope) && !self.scopes.is_empty()
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    pub fn require(&self, scope: Scope) -> Result<(), AppError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden(scope.as_str().to_string()))
        }
    }
}

/// The token keys: the current secret signs, the current and previous secrets verify
/// (`RAPPORT_JWT_PREVIOUS_SECRETS`), so a rotation does not cut off every client at once.
/// Tokens name their key in the `kid` header; keys for anything else live in
/// [`crate::keys::DataKeys`].
pub struct JwtKeys {
    encoding: EncodingKey,
    /// The current key first, then the previous ones.
    accepted: Vec<AcceptedKey>,
    validation: Validation,
}

struct AcceptedKey {
    kid: String,
    decoding: DecodingKey,
}

impl JwtKeys {
    /// Keys that sign and accept with `secret` only.
    pub fn new(secret: &[u8]) -> Self {
        JwtKeys::with_previous::<&[u8]>(secret, &[])
    }

    /// Keys that sign with `current` and also accept tokens signed with `previous`.
    pub fn with_previous<S: AsRef<[u8]>>(current: &[u8], previous: &[S]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let accepted = std::iter::once(current)
            .chain(previous.iter().map(AsRef::as_ref))
            .map(|secret| AcceptedKey { kid: key_id(secret), decoding: DecodingKey::from_secret(secret) })
            .collect();
        JwtKeys { encoding: EncodingKey::from_secret(current), accepted, validation }
    }

    /// The `kid` of the tokens this server signs.
    pub fn kid(&self) -> &str {
        &self.accepted[0].kid
    }

    /// Signs a token for `sub` with `scopes`, valid for `ttl`.
    pub fn issue(&self, sub: &str, scopes: &[Scope], ttl: chrono::Duration) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            iat: now,
            exp: now + ttl.num_seconds(),
            scope: scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid().to_string());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("HS256 signing with an in-memory key cannot fail")
    }

    /// Checks the token with the key its `kid` names; a token without `kid` (signed before
    /// tokens carried one) is tried with the current key, then the previous ones.
    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| rejected(&error))?;
        let mut candidates =
            self.accepted.iter().filter(|key| header.kid.as_ref().is_none_or(|kid| *kid == key.kid)).peekable();
        if candidates.peek().is_none() {
            return Err(AppError::unauthorized("the token was signed with a key this server no longer accepts", true));
        }
        let mut failure: Option<jsonwebtoken::errors::Error> = None;
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation) {
                Ok(data) => return caller(data.claims),
                // The most telling failure wins: "expired" over another key's "bad signature".
                Err(error) => {
                    if failure.as_ref().is_none_or(|f| *f.kind() == ErrorKind::InvalidSignature) {
                        failure = Some(error);
                    }
                }
            }
        }
        Err(rejected(&failure.expect("at least one key was tried")))
    }
}

/// The `kid` of tokens signed with `secret`: the first 8 hex digits of its SHA-256, which
/// names the key without revealing it.
pub fn key_id(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret)[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn rejected(error: &jsonwebtoken::errors::Error) -> AppError {
    let detail = match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::InvalidSignature => "the token signature is invalid",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "the token must be signed with HS256",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (sub, exp, iat)",
        _ => "the token is malformed",
    };
    AppError::unauthorized(detail, true)
}

fn caller(claims: Claims) -> Result<Caller, AppError> {
    if claims.sub.trim().is_empty() {
        return Err(AppError::unauthorized("the token has an empty `sub`", true));
    }
    Ok(Caller {
        sub: claims.sub,
        // Unknown scopes grant nothing; they are ignored.
        scopes: claims.scope.split_whitespace().filter_map(Scope::parse).collect(),
    })
}

/// Reads the signing secret from `path`, creating it (256 random bits as hex, mode 0600)
/// the first time. Used for the zero-configuration SQLite start. A file holding fewer
/// than 32 bytes is refused rather than used as a weak key.
pub fn load_or_create_secret_file(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(existing) => return checked_secret(path, existing),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        Err(_) => {}
    }
    let secret = random_hex_secret();
    // Write a private temporary file, then link it into place: the secret appears
    // complete or not at all, and a concurrent creator's secret is never overwritten.
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    write_private_file(&temporary, &secret)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(secret.into_bytes()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            checked_secret(path, std::fs::read_to_string(path)?)
        }
        Err(error) => Err(error),
    }
}

fn checked_secret(path: &Path, contents: String) -> std::io::Result<Vec<u8>> {
    let secret = contents.trim();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds {} bytes; a secret needs at least {MIN_SECRET_BYTES} (delete the file to generate a new one)",
                path.display(),
                secret.len()
            ),
        ));
    }
    Ok(secret.as_bytes().to_vec())
}

fn random_hex_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Marks a type as naming the scope an endpoint needs.
pub trait RequiredScope {
    const SCOPE: Scope;
}

/// Extractor: a verified caller holding the scope `S`. Put it first among a handler's
/// arguments so an unauthenticated request gets 401 before its body is read.
pub struct Authorized<S: RequiredScope> {
    pub caller: Caller,
    scope: PhantomData<S>,
}

impl<S: RequiredScope> FromRequest for Authorized<S> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, S::SCOPE).map(|caller| Authorized { caller, scope: PhantomData }))
    }
}

fn authorize(req: &HttpRequest, scope: Scope) -> Result<Caller, AppError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| AppError::internal("application state missing"))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| AppError::unauthorized("an `Authorization: Bearer <token>` header is required", false))?;
    let value =
        value.to_str().map_err(|_| AppError::unauthorized("the Authorization header is not valid text", true))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
        _ => return Err(AppError::unauthorized("the Authorization header must be `Bearer <token>`", true)),
    };
    let caller = state.jwt.verify(token)?;
    caller.require(scope)?;
    Ok(caller)
}

/// Parses a duration such as `30d`, `12h`, `15m`, `90s` or `2w`.
pub fn parse_ttl(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: s, m, h, d or w (e.g. 30d)"))?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| format!("`{text}` must start with a whole number (e.g. 30d)"))?;
    if number <= 0 {
        return Err(format!("`{text}` must be positive"));
    }
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("unknown unit `{unit}` in `{text}`: use s, m, h, d or w")),
    };
    number
        .checked_mul(seconds)
        .filter(|secs| *secs <= 10 * 365 * 86_400)
        .map(chrono::Duration::seconds)
        .ok_or_else(|| format!("`{text}` is longer than ten years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(parse_ttl("15m").unwrap(), chrono::Duration::minutes(15));
        assert!(parse_ttl("30").is_err());
        assert!(parse_ttl("0d").is_err());
        assert!(parse_ttl("3y").is_err());
        assert!(parse_ttl("99999w").is_err());
    }

    #[test]
    fn admin_implies_every_scope() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let caller = keys.verify(&keys.issue("ops", &[Scope::Admin], chrono::Duration::minutes(5))).unwrap();
        assert!(Scope::ALL.iter().all(|scope| caller.has(*scope)));
    }

    fn without_kid(secret: &[u8]) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims { sub: "shop".into(), iat: now, exp: now + 300, scope: "admin".into() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    #[test]
    fn tokens_name_their_key_and_previous_keys_still_verify() {
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let before = JwtKeys::new(&old);
        let token = before.issue("shop", &[Scope::Admin], chrono::Duration::minutes(5));
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid;
        assert_eq!(kid.as_deref(), Some(key_id(&old).as_str()));
        assert_eq!(key_id(&old).len(), 8);
        assert_ne!(key_id(&old), key_id(&new));

        let rotated = JwtKeys::with_previous(&new, &[old]);
        assert!(rotated.verify(&token).is_ok(), "a previous key still verifies");
        assert!(rotated.verify(&without_kid(&old)).is_ok(), "a token without kid is tried with every key");
        let fresh = rotated.issue("shop", &[Scope::Admin], chrono::Duration::minutes(5));
        assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid, Some(key_id(&new)));

        let dropped = JwtKeys::new(&new);
        assert!(dropped.verify(&token).is_err(), "a key no longer listed verifies nothing");
        assert!(dropped.verify(&without_kid(&old)).is_err());
        assert!(dropped.verify(&fresh).is_ok());
    }

    #[test]
    fn a_kid_is_no_way_around_the_signature() {
        // A token forged with another secret but naming the current kid is still refused.
        let keys = JwtKeys::new(&[1u8; 32]);
        let now = Utc::now().timestamp();
        let claims = Claims { sub: "x".into(), iat: now, exp: now + 300, scope: "admin".into() };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.kid().to_string());
        let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[9u8; 32])).unwrap();
        assert!(keys.verify(&forged).is_err());
        let expired = Claims { exp: now - 3600, ..claims };
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &expired, &EncodingKey::from_secret(&[1u8; 32]));
        let rotated = JwtKeys::with_previous(&[2u8; 32], &[[1u8; 32]]);
        match rotated.verify(&expired.unwrap()) {
            Err(AppError::Unauthorized { detail, .. }) => assert!(detail.contains("expired"), "{detail}"),
            other => panic!("expected 401, got {:?}", other.map(|c| c.sub)),
        }
    }

    #[test]
    fn secret_file_is_created_once_and_short_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db.jwt-secret");
        let first = load_or_create_secret_file(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_secret_file(&path).unwrap(), first);
        std::fs::write(&path, "").unwrap();
        assert!(load_or_create_secret_file(&path).unwrap_err().to_string().contains("at least 32"));
    }

    #[test]
    fn scope_round_trip() {
        for &scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("customers:reed"), None);
    }
}
