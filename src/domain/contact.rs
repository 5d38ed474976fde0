use std::fmt;

use validator::ValidateEmail;

/// ISO 3166-1 alpha-2 codes (officially assigned).
const COUNTRY_CODES: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Trims and collapses inner whitespace; `None` when nothing is left.
pub fn clean_text(raw: &str) -> Option<String> {
    let cleaned = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    (!cleaned.is_empty()).then_some(cleaned)
}

/// An email address: trimmed, lower-cased, syntactically valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let normalized = raw.trim().to_lowercase();
        if normalized.is_empty() {
            return Err("must not be empty".into());
        }
        if normalized.len() > 254 || !normalized.validate_email() {
            return Err(format!("`{}` is not a valid email address", raw.trim()));
        }
        Ok(Email(normalized))
    }

    /// A value read back from our own database, already normalized.
    pub fn from_stored(stored: String) -> Email {
        Email(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country([u8; 2]);

impl Country {
    pub fn parse(raw: &str) -> Result<Country, String> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2 && COUNTRY_CODES.split(' ').any(|known| known == code) {
            let bytes = code.as_bytes();
            Ok(Country([bytes[0], bytes[1]]))
        } else {
            Err(format!("`{}` is not an ISO 3166-1 alpha-2 country code", raw.trim()))
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("country codes are ASCII")
    }
}

/// A phone number in E.164 form (`+33612345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Numbers without `+CC` are read in `default_country`; without one they are refused.
    pub fn parse(raw: &str, default_country: Option<Country>) -> Result<Phone, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        let international = trimmed.starts_with('+') || trimmed.starts_with("00");
        let region = match (international, default_country) {
            (true, _) => None,
            (false, Some(country)) => Some(
                country
                    .as_str()
                    .parse::<phonenumber::country::Id>()
                    .map_err(|_| format!("phone numbers of {} cannot be read; send +CC", country.as_str()))?,
            ),
            (false, None) => {
                return Err(format!(
                    "`{trimmed}` has no country code: send it as +CC... or set RAPPORT_DEFAULT_COUNTRY"
                ))
            }
        };
        let number = phonenumber::parse(region, trimmed).map_err(|_| format!("`{trimmed}` is not a phone number"))?;
        if !phonenumber::is_valid(&number) {
            return Err(format!("`{trimmed}` is not a valid phone number"));
        }
        Ok(Phone(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    pub fn from_stored(stored: String) -> Phone {
        Phone(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language tag such as `fr` or `pt-BR` (BCP 47 language + optional region).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    pub fn parse(raw: &str) -> Result<Language, String> {
        let raw = raw.trim();
        let mut parts = raw.split(['-', '_']);
        let language = parts.next().unwrap_or_default();
        let region = parts.next();
        let language_ok = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
        let region_ok = region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()));
        if !language_ok || !region_ok || parts.next().is_some() {
            return Err(format!("`{raw}` is not a language tag like `fr` or `pt-BR`"));
        }
        Ok(Language(match region {
            Some(region) => format!("{}-{}", language.to_ascii_lowercase(), region.to_ascii_uppercase()),
            None => language.to_ascii_lowercase(),
        }))
    }

    pub fn from_stored(stored: String) -> Language {
        Language(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag: trimmed, lower-cased, inner whitespace collapsed, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(raw: &str) -> Result<Tag, String> {
        let cleaned = clean_text(raw).map(|t| t.to_lowercase()).ok_or("must not be empty")?;
        if cleaned.chars().count() > 64 {
            return Err("must be at most 64 characters".into());
        }
        Ok(Tag(cleaned))
    }

    pub fn from_stored(stored: String) -> Tag {
        Tag(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(Email::parse("  Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("a@").is_err());
        assert!(Email::parse("").is_err());
    }

    #[test]
    fn phone_is_e164() {
        assert_eq!(Phone::parse("+33 6 12 34 56 78", None).unwrap().as_str(), "+33612345678");
        let fr = Country::parse("fr").unwrap();
        assert_eq!(Phone::parse("06 12 34 56 78", Some(fr)).unwrap().as_str(), "+33612345678");
        let error = Phone::parse("06 12 34 56 78", None).unwrap_err();
        assert!(error.contains("RAPPORT_DEFAULT_COUNTRY"), "{error}");
        assert!(Phone::parse("+33 12", None).is_err());
        assert!(Phone::parse("hello", Some(fr)).is_err());
    }

    #[test]
    fn country_codes() {
        assert_eq!(Country::parse("de").unwrap().as_str(), "DE");
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("FRA").is_err());
    }

    #[test]
    fn names_and_tags_are_cleaned() {
        assert_eq!(clean_text("  Jean   Paul "), Some("Jean Paul".into()));
        assert_eq!(clean_text("   "), None);
        assert_eq!(Tag::parse("  VIP  Client ").unwrap().as_str(), "vip client");
        assert!(Tag::parse(" ").is_err());
        assert!(Tag::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn languages() {
        assert_eq!(Language::parse("PT_br").unwrap().as_str(), "pt-BR");
        assert_eq!(Language::parse("fr").unwrap().as_str(), "fr");
        assert!(Language::parse("french!").is_err());
    }
}

/// Active ISO 4217 currency codes.
pub const CURRENCY_CODES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD \
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL \
HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD \
MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR \
SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND \
VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// An ISO 4217 currency code, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, String> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && CURRENCY_CODES.split(' ').any(|known| known == code) {
            Ok(Currency(code))
        } else {
            Err(format!("`{}` is not an ISO 4217 currency code", raw.trim()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stock-keeping unit: trimmed, 1 to 64 visible characters, no spaces.
pub fn parse_sku(raw: &str) -> Result<String, String> {
    let sku = raw.trim();
    if sku.is_empty() || sku.chars().count() > 64 || sku.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{sku}` is not a SKU (1 to 64 characters, no spaces)"));
    }
    Ok(sku.to_string())
}
