use thiserror::Error;

/// What a storage call can fail with. Callers map `NotFound`/`Conflict` to client errors;
/// `Database` is always the server's problem.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; the string names the constraint or the field.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type StorageResult<T> = Result<T, StorageError>;

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StorageError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StorageError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            _ => StorageError::Database(err),
        }
    }
}
