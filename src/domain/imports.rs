//! How an import treats rows whose email is already known.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    CreateOnly,
    Upsert,
}

impl ImportMode {
    pub fn parse(text: &str) -> Option<ImportMode> {
        match text {
            "create_only" => Some(ImportMode::CreateOnly),
            "upsert" => Some(ImportMode::Upsert),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::CreateOnly => "create_only",
            ImportMode::Upsert => "upsert",
        }
    }
}
