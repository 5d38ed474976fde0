//! Leases on background work, so that several rapport instances on one database never do
//! the same work at once, and work a crashed instance held is taken over once its lease
//! runs out. The lease lives in the database (`background_leases`), next to the work.

use chrono::Duration;
use rand::Rng;

use super::now;
use crate::db::DbConn;
use crate::error::AppError;
use crate::repositories::leases as repo;

/// A lease this process holds on the work called `name`.
#[derive(Debug, Clone)]
pub struct Lease {
    pub name: String,
    owner: String,
}

/// Claims `name` for `duration`; None while another holder's lease runs.
pub fn claim(conn: &mut DbConn, name: &str, duration: Duration) -> Result<Option<Lease>, AppError> {
    let owner = format!("{:032x}", rand::rng().random::<u128>());
    let now = now();
    Ok(repo::claim(conn, name, &owner, now, now + duration)?.then(|| Lease { name: name.to_string(), owner }))
}

impl Lease {
    /// Extends the lease by `duration` from now. Run it inside the transaction that records
    /// progress: a holder that lost its lease (it stalled past the end and another took
    /// over) gets an error, and its transaction records nothing.
    pub fn renew(&self, conn: &mut DbConn, duration: Duration) -> Result<(), AppError> {
        if repo::renew(conn, &self.name, &self.owner, now() + duration)? {
            Ok(())
        } else {
            Err(AppError::internal(format!("the lease on `{}` was lost to another instance", self.name)))
        }
    }

    pub fn release(&self, conn: &mut DbConn) -> Result<(), AppError> {
        Ok(repo::release(conn, &self.name, &self.owner)?)
    }
}

/// Runs `work` in this round only if no other instance ran it within `every`: the lease is
/// claimed for a little less than `every` and left to expire, so that across every
/// instance the work runs about once per period.
pub fn once_per_period(
    database: &crate::db::Database,
    name: &str,
    every: std::time::Duration,
    work: impl FnOnce(&mut DbConn) -> Result<(), AppError>,
) -> Result<bool, AppError> {
    let period = Duration::from_std(every).unwrap_or(Duration::hours(1));
    database.with_conn(|conn| {
        let Some(_lease) = claim(conn, name, period - period / 10)? else { return Ok(false) };
        work(conn)?;
        Ok(true)
    })
}
