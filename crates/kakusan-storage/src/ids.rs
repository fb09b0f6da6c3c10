//! Discord ids between `u64` (Rust) and BIGINT (Postgres).

use crate::StorageError;

/// Converts a Discord snowflake to the BIGINT Postgres stores.
pub(crate) fn sf(id: u64) -> Result<i64, StorageError> {
    i64::try_from(id).map_err(|_| StorageError::IdOutOfRange(id))
}

/// A nullable BIGINT column read as `Option<u64>`.
pub(crate) struct OptionalId(Option<i64>);

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for OptionalId {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(OptionalId(
            <Option<i64> as sqlx::Decode<sqlx::Postgres>>::decode(value)?,
        ))
    }
}

impl sqlx::Type<sqlx::Postgres> for OptionalId {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <i64 as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl TryFrom<OptionalId> for Option<u64> {
    type Error = std::num::TryFromIntError;

    fn try_from(value: OptionalId) -> Result<Self, Self::Error> {
        value.0.map(u64::try_from).transpose()
    }
}
