//! Statements built at run time — multi-row INSERTs and `IN (…)` lookups — with numbered
//! placeholders (`$1`, `$2`, …), which both engines accept. sqlx's own `QueryBuilder` writes
//! `?` for the `Any` driver, which PostgreSQL refuses; [`Sql`] is the same idea with `$n`.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::{Any, AnyConnection, Arguments as _, Encode, FromRow, Type};

use super::StorageError;

/// Rows per multi-row INSERT: large statements bind slowly (cost grows faster than the
/// number of parameters), small ones pay a round trip each; measured best around 100–250.
pub const ROWS_PER_STATEMENT: usize = 64;

/// Values per `IN (…)` lookup.
pub const IN_CHUNK: usize = ROWS_PER_STATEMENT * 2;

/// A statement and its arguments, placeholders numbered as they are bound.
#[derive(Default)]
pub struct Sql<'q> {
    text: String,
    args: AnyArguments<'q>,
    count: usize,
    /// The first value that could not be encoded: reported when the statement runs.
    error: Option<BoxDynError>,
}

impl<'q> Sql<'q> {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            ..Self::default()
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds an argument without writing it; its placeholder is `$n`, n counted from 1 in
    /// binding order (for values a statement uses many times: bind them first).
    pub fn param<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self.count += 1;
        self
    }

    /// Adds an argument and writes its placeholder.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        self.param(value);
        let n = self.count;
        self.text.push_str(&format!("${n}"));
        self
    }

    /// `($a, $b, …)`: one placeholder per value.
    pub fn list<T, I>(&mut self, values: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }

    /// `(…), (…), …`: `row` writes the fields of one item.
    pub fn tuples<T, I>(
        &mut self,
        items: I,
        mut row: impl FnMut(&mut Fields<'_, 'q>, T),
    ) -> &mut Self
    where
        I: IntoIterator<Item = T>,
    {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.text.push('(');
            row(
                &mut Fields {
                    sql: self,
                    first: true,
                },
                item,
            );
            self.text.push(')');
        }
        self
    }

    fn finish(self) -> Result<(String, AnyArguments<'q>), StorageError> {
        match self.error {
            Some(e) => Err(StorageError::Sqlx(sqlx::Error::Encode(e))),
            None => Ok((self.text, self.args)),
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute(self, conn: &mut AnyConnection) -> Result<u64, StorageError> {
        let (text, args) = self.finish()?;
        let done = sqlx::query_with(&text, args).execute(conn).await?;
        Ok(done.rows_affected())
    }

    pub async fn fetch_all<O>(self, conn: &mut AnyConnection) -> Result<Vec<O>, StorageError>
    where
        O: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let (text, args) = self.finish()?;
        Ok(sqlx::query_as_with(&text, args).fetch_all(conn).await?)
    }
}

/// The fields of one tuple of [`Sql::tuples`], separated by commas.
pub struct Fields<'a, 'q> {
    sql: &'a mut Sql<'q>,
    first: bool,
}

impl<'q> Fields<'_, 'q> {
    fn separate(&mut self) {
        if !self.first {
            self.sql.text.push_str(", ");
        }
        self.first = false;
    }

    /// A value as a new placeholder.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        self.separate();
        self.sql.bind(value);
        self
    }

    /// A literal or an earlier placeholder (`$1`, `'pending'`).
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.separate();
        self.sql.text.push_str(text);
        self
    }
}

/// The rows of `head IN ($…)` for any number of `values`, in statements of at most
/// [`IN_CHUNK`] values. `head` writes the statement up to the compared column (it may bind
/// values of its own, e.g. `… WHERE unit_code = $1 AND national_id`).
pub async fn fetch_in<'q, O>(
    conn: &mut AnyConnection,
    values: &[&'q str],
    head: impl Fn(&mut Sql<'q>),
) -> Result<Vec<O>, StorageError>
where
    O: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut out = Vec::with_capacity(values.len());
    for part in values.chunks(IN_CHUNK) {
        let mut sql = Sql::default();
        head(&mut sql);
        sql.push(" IN ").list(part.iter().copied());
        out.extend(sql.fetch_all::<O>(&mut *conn).await?);
    }
    Ok(out)
}

/// Inserts `rows` in multi-row statements of [`ROWS_PER_STATEMENT`]:
/// `head VALUES (…), (…) tail`. `shared` binds (with [`Sql::param`]) the values every row
/// uses, which the rows then name as `$1`, `$2`, …; `row` writes one row's fields.
pub async fn insert_rows<'q, R>(
    conn: &mut AnyConnection,
    head: &str,
    tail: &str,
    rows: &'q [R],
    shared: impl Fn(&mut Sql<'q>),
    row: impl Fn(&mut Fields<'_, 'q>, &'q R),
) -> Result<(), StorageError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(head);
        shared(&mut sql);
        sql.push(" VALUES ").tuples(chunk, &row).push(tail);
        sql.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order() {
        let rows = [("a", 1_i64), ("b", 2)];
        let mut sql = Sql::new("INSERT INTO t (u, name, n, status)");
        sql.param(7_i64)
            .push(" VALUES ")
            .tuples(&rows, |f, (name, n)| {
                f.raw("$1").bind(*name).bind(*n).raw("'pending'");
            })
            .push(" ON CONFLICT DO NOTHING");
        assert_eq!(
            sql.text,
            "INSERT INTO t (u, name, n, status) VALUES ($1, $2, $3, 'pending'), \
             ($1, $4, $5, 'pending') ON CONFLICT DO NOTHING"
        );
        assert_eq!(sql.count, 5);
        let mut lookup = Sql::new("SELECT x FROM t WHERE k = ");
        lookup.bind("k").push(" AND id IN ").list(["p", "q", "r"]);
        assert_eq!(
            lookup.text,
            "SELECT x FROM t WHERE k = $1 AND id IN ($2, $3, $4)"
        );
    }
}
