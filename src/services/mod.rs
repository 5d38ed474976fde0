//! Business rules and transactions. Services take domain types and `&mut DbConn`.

pub mod analytics;
pub mod campaigns;
pub mod consents;
pub mod customers;
pub mod emit;
pub mod enquiries;
pub mod events;
pub mod flows;
pub mod form_definitions;
pub mod forms;
pub mod idempotency;
pub mod imports;
pub mod keys;
pub mod leases;
pub mod messages;
pub mod orders;
pub mod predictions;
pub mod privacy;
pub mod products;
pub mod promo_codes;
pub mod provenance;
pub mod recommendations;
pub mod referrals;
pub mod reminders;
pub mod rollups;
pub mod segments;
pub mod template_data;
pub mod webhooks;

pub use crate::domain::now;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::{Contention, DbConn};
use crate::error::AppError;

/// A transaction's failure: a business error, or a raw database error the caller inspects
/// (a unique violation is retried or becomes a 409 once the transaction rolled back).
#[derive(Debug)]
pub(crate) enum TxError {
    App(AppError),
    Db(DieselError),
}

impl From<AppError> for TxError {
    fn from(error: AppError) -> Self {
        TxError::App(error)
    }
}

impl From<DieselError> for TxError {
    fn from(error: DieselError) -> Self {
        TxError::Db(error)
    }
}

impl Contention for TxError {
    fn is_contention(&self) -> bool {
        match self {
            TxError::App(error) => error.is_contention(),
            TxError::Db(error) => error.is_contention(),
        }
    }
}

impl From<TxError> for AppError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::App(error) => error,
            TxError::Db(error) => error.into(),
        }
    }
}

pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}

/// Runs a write transaction, and once more if it lost a race on a unique key (two
/// first-time writers of one email on PostgreSQL: the second then finds the first's row).
pub(crate) fn write_with_one_retry<T>(
    conn: &mut DbConn,
    mut work: impl FnMut(&mut DbConn) -> Result<T, TxError>,
) -> Result<T, TxError> {
    match conn.write_transaction(&mut work) {
        Err(TxError::Db(error)) if is_unique_violation(&error) => conn.write_transaction(work),
        outcome => outcome,
    }
}
