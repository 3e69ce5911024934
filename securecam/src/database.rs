use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use securecam_storage::Database;
use securecam_storage_sqlite::SqliteDatabase;

/// Opens the backend the URL names: `sqlite://…` or `postgres://…`. `max_connections`
/// overrides PostgreSQL's pool size (default: two per core).
pub async fn open(url: &str, max_connections: Option<u32>) -> anyhow::Result<Arc<dyn Database>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let file = path.split('?').next().unwrap_or(path);
        if let Some(dir) = Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Arc::new(
            SqliteDatabase::connect(url)
                .await
                .context("opening SQLite")?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let size = max_connections.unwrap_or_else(securecam_storage_postgres::default_pool_size);
        Ok(Arc::new(
            securecam_storage_postgres::connect_with_pool_size(url, size)
                .await
                .context("connecting to PostgreSQL")?,
        ))
    } else {
        anyhow::bail!("database URL must start with sqlite:// or postgres://")
    }
}

/// The URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:[REDACTED]{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:[REDACTED]@db:5432/x"
        );
        assert_eq!(
            redact_url("sqlite://./data/securecam.db"),
            "sqlite://./data/securecam.db"
        );
    }
}
