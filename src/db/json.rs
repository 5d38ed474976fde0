//! JSON kept in a TEXT column (on both backends: see the migrations), read into a typed
//! value. A stored value that is not the JSON expected fails the read with a
//! deserialization error (a 500 whose cause is logged), never reads as empty.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::io::Write;

/// A TEXT column holding JSON, decoded as `T` when read and written as its JSON text.
#[derive(Debug, Clone, PartialEq, Default, FromSqlRow, AsExpression)]
#[diesel(sql_type = Text)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Serialize> Json<T> {
    /// The value as stored: its JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(&self.0).expect("a JSON value always serializes")
    }

    /// For `#[serde(serialize_with)]`: writes the value as its JSON text (a string), the
    /// way the column holds it.
    pub fn serialize_as_text<S: Serializer>(value: &Json<T>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_text())
    }
}

/// The cause of a failed read (the stored text itself may be personal data: not quoted).
#[derive(Debug, thiserror::Error)]
#[error("a stored JSON value does not decode as {expected}: {cause}")]
pub struct CorruptJson {
    expected: &'static str,
    cause: serde_json::Error,
}

impl<T, DB> FromSql<Text, DB> for Json<T>
where
    T: DeserializeOwned,
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
        serde_json::from_str(&text)
            .map(Json)
            .map_err(|cause| Box::new(CorruptJson { expected: std::any::type_name::<T>(), cause }) as _)
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_text());
        Ok(IsNull::No)
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.to_text().as_bytes())?;
        Ok(IsNull::No)
    }
}

#[cfg(test)]
mod tests;
