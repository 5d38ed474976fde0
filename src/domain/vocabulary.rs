use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a closed vocabulary stored as text: serde names, `as_str` and `parse`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

vocabulary!(
    /// A person or a company.
    CustomerKind { Person => "person", Company => "company" }
);

vocabulary!(
    /// Where the customer record was first captured.
    CustomerSource {
        Checkout => "checkout",
        ContactForm => "contact_form",
        NewsletterForm => "newsletter_form",
        Phone => "phone",
        Email => "email",
        Store => "store",
        Event => "event",
        Import => "import",
        Referral => "referral",
        Api => "api",
    }
);

vocabulary!(
    Gender {
        Female => "female",
        Male => "male",
        NonBinary => "non_binary",
        Other => "other",
        PreferNotToSay => "prefer_not_to_say",
    }
);
