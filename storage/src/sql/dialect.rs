//! How the one SQL implementation talks to sqlx without naming a database.
//!
//! Code generic over a `sqlx::Database` would have to restate, on every impl block, that each
//! bound type encodes and each row decodes for that database: Rust does not carry such bounds
//! along with the type parameter (rust-lang/rust#20671). Here they are stated once instead, as
//! supertraits over both concrete databases ([`Value`], [`Model`]), and the few calls that need
//! the concrete database (bind, fetch, execute) go through [`Dialect`], implemented below for
//! SQLite and PostgreSQL. Shared code then reads like plain sqlx:
//! `query(sql).bind(id).fetch_optional(&mut tx)`.

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Arguments, Encode, FromRow, Pool, Postgres, Sqlite, Type};

use super::transaction::WriteTx;

/// A value both databases can bind.
pub trait Value<'q>:
    Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite> + Send + 'q
{
}

impl<'q, T> Value<'q> for T where
    T: Encode<'q, Postgres> + Type<Postgres> + Encode<'q, Sqlite> + Type<Sqlite> + Send + 'q
{
}

/// A row type both databases can decode (every model derives `sqlx::FromRow`; tuples too).
pub trait Model:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}

impl<T> Model for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}

/// Where a statement runs: the pool (each statement on any free connection) or one
/// connection (a transaction's, or one taken from the pool).
pub enum Exec<'e, DB: sqlx::Database> {
    Pool(&'e Pool<DB>),
    Conn(&'e mut DB::Connection),
}

/// What a statement can run on: `&pool`, `&mut tx` (a [`WriteTx`]) or `&mut conn`.
pub trait IntoExec<'e, DB: sqlx::Database> {
    fn into_exec(self) -> Exec<'e, DB>;
}

impl<'e, DB: sqlx::Database> IntoExec<'e, DB> for &'e Pool<DB> {
    fn into_exec(self) -> Exec<'e, DB> {
        Exec::Pool(self)
    }
}

impl<'e, DB: sqlx::Database> IntoExec<'e, DB> for &'e mut WriteTx<DB> {
    fn into_exec(self) -> Exec<'e, DB> {
        Exec::Conn(self.connection())
    }
}

impl<'e, DB: sqlx::Database> IntoExec<'e, DB> for &'e mut PoolConnection<DB> {
    fn into_exec(self) -> Exec<'e, DB> {
        Exec::Conn(&mut **self)
    }
}

impl<'e, 'x, DB: sqlx::Database> IntoExec<'e, DB> for &'e mut Exec<'x, DB> {
    fn into_exec(self) -> Exec<'e, DB> {
        match self {
            Exec::Pool(pool) => Exec::Pool(pool),
            Exec::Conn(conn) => Exec::Conn(&mut **conn),
        }
    }
}

/// The calls that need the concrete database. Implemented for SQLite and PostgreSQL only.
pub trait Dialect: sqlx::Database {
    fn add<'q, V: Value<'q>>(args: &mut Self::Arguments<'q>, value: V) -> Result<(), BoxDynError>;

    fn fetch_all<'e, 'q: 'e, O: Model>(
        exec: Exec<'e, Self>,
        sql: &'q str,
        args: Self::Arguments<'q>,
    ) -> BoxFuture<'e, sqlx::Result<Vec<O>>>;

    fn fetch_optional<'e, 'q: 'e, O: Model>(
        exec: Exec<'e, Self>,
        sql: &'q str,
        args: Self::Arguments<'q>,
    ) -> BoxFuture<'e, sqlx::Result<Option<O>>>;

    /// Runs a statement; how many rows it changed.
    fn execute<'e, 'q: 'e>(
        exec: Exec<'e, Self>,
        sql: &'q str,
        args: Self::Arguments<'q>,
    ) -> BoxFuture<'e, sqlx::Result<u64>>;
}

/// One implementation per database; the bodies are the same text, but each compiles against
/// its database's own `Encode`/`FromRow` impls, which is the point.
macro_rules! dialect {
    ($db:ty) => {
        impl Dialect for $db {
            fn add<'q, V: Value<'q>>(
                args: &mut Self::Arguments<'q>,
                value: V,
            ) -> Result<(), BoxDynError> {
                args.add(value)
            }

            fn fetch_all<'e, 'q: 'e, O: Model>(
                exec: Exec<'e, Self>,
                sql: &'q str,
                args: Self::Arguments<'q>,
            ) -> BoxFuture<'e, sqlx::Result<Vec<O>>> {
                let query = sqlx::query_as_with::<$db, O, _>(sql, args);
                match exec {
                    Exec::Pool(pool) => query.fetch_all(pool).boxed(),
                    Exec::Conn(conn) => query.fetch_all(conn).boxed(),
                }
            }

            fn fetch_optional<'e, 'q: 'e, O: Model>(
                exec: Exec<'e, Self>,
                sql: &'q str,
                args: Self::Arguments<'q>,
            ) -> BoxFuture<'e, sqlx::Result<Option<O>>> {
                let query = sqlx::query_as_with::<$db, O, _>(sql, args);
                match exec {
                    Exec::Pool(pool) => query.fetch_optional(pool).boxed(),
                    Exec::Conn(conn) => query.fetch_optional(conn).boxed(),
                }
            }

            fn execute<'e, 'q: 'e>(
                exec: Exec<'e, Self>,
                sql: &'q str,
                args: Self::Arguments<'q>,
            ) -> BoxFuture<'e, sqlx::Result<u64>> {
                let query = sqlx::query_with::<$db, _>(sql, args);
                async move {
                    let done = match exec {
                        Exec::Pool(pool) => query.execute(pool).await?,
                        Exec::Conn(conn) => query.execute(conn).await?,
                    };
                    Ok(done.rows_affected())
                }
                .boxed()
            }
        }
    };
}

dialect!(Sqlite);
dialect!(Postgres);

/// A statement and its arguments, on either database: [`query`] starts one.
pub struct Query<'q, DB: Dialect> {
    sql: &'q str,
    args: DB::Arguments<'q>,
    /// The first value that failed to encode; reported when the statement runs, as sqlx does.
    error: Option<BoxDynError>,
}

/// A statement; bind its `$n` parameters in order, then fetch or execute it.
pub fn query<'q, DB: Dialect>(sql: &'q str) -> Query<'q, DB> {
    Query {
        sql,
        args: Default::default(),
        error: None,
    }
}

/// A statement whose rows are one column each.
pub fn query_scalar<'q, DB: Dialect>(sql: &'q str) -> Scalar<'q, DB> {
    Scalar(query(sql))
}

impl<'q, DB: Dialect> Query<'q, DB> {
    pub fn bind<V: Value<'q>>(mut self, value: V) -> Self {
        if self.error.is_none() {
            if let Err(err) = DB::add(&mut self.args, value) {
                self.error = Some(err);
            }
        }
        self
    }

    fn ready(self) -> sqlx::Result<(&'q str, DB::Arguments<'q>)> {
        match self.error {
            Some(err) => Err(sqlx::Error::Encode(err)),
            None => Ok((self.sql, self.args)),
        }
    }

    pub async fn fetch_all<'e, O: Model>(self, on: impl IntoExec<'e, DB>) -> sqlx::Result<Vec<O>> {
        let (sql, args) = self.ready()?;
        DB::fetch_all(on.into_exec(), sql, args).await
    }

    pub async fn fetch_optional<'e, O: Model>(
        self,
        on: impl IntoExec<'e, DB>,
    ) -> sqlx::Result<Option<O>> {
        let (sql, args) = self.ready()?;
        DB::fetch_optional(on.into_exec(), sql, args).await
    }

    pub async fn fetch_one<'e, O: Model>(self, on: impl IntoExec<'e, DB>) -> sqlx::Result<O> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Runs the statement; how many rows it changed.
    pub async fn execute<'e>(self, on: impl IntoExec<'e, DB>) -> sqlx::Result<u64> {
        let (sql, args) = self.ready()?;
        DB::execute(on.into_exec(), sql, args).await
    }
}

/// [`query_scalar`]: rows of one column, returned as that column's values.
pub struct Scalar<'q, DB: Dialect>(Query<'q, DB>);

impl<'q, DB: Dialect> Scalar<'q, DB> {
    pub fn bind<V: Value<'q>>(self, value: V) -> Self {
        Scalar(self.0.bind(value))
    }

    pub async fn fetch_all<'e, O>(self, on: impl IntoExec<'e, DB>) -> sqlx::Result<Vec<O>>
    where
        (O,): Model,
    {
        let rows: Vec<(O,)> = self.0.fetch_all(on).await?;
        Ok(rows.into_iter().map(|(value,)| value).collect())
    }

    pub async fn fetch_optional<'e, O>(self, on: impl IntoExec<'e, DB>) -> sqlx::Result<Option<O>>
    where
        (O,): Model,
    {
        let row: Option<(O,)> = self.0.fetch_optional(on).await?;
        Ok(row.map(|(value,)| value))
    }

    pub async fn fetch_one<'e, O>(self, on: impl IntoExec<'e, DB>) -> sqlx::Result<O>
    where
        (O,): Model,
    {
        let (value,): (O,) = self.0.fetch_one(on).await?;
        Ok(value)
    }
}
