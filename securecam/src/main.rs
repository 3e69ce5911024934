//! `securecam`: the command line. `serve` runs the server (all components, or some);
//! `migrate` applies database migrations; `user create` adds an account.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use securecam::app::shutdown_signal;
use securecam::components::parse_list;
use securecam::{database, telemetry, Application, Component, Settings};
use securecam_signal::auth::password::PasswordHasher;
use securecam_signal::routes::auth;
use securecam_storage::{NewAuditLog, NewUser, StorageError};

/// mimalloc instead of the system allocator, for two measured reasons (BENCHMARKS.md):
/// glibc kept the 19 MiB of every argon2 hash in per-thread arenas (a server that had signed
/// in a hundred users held 1 GiB it did not use), and each idle WebSocket cost 26 KiB of
/// resident memory with glibc against 15 KiB with mimalloc, mostly fragmentation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "securecam",
    version,
    about = "SecureCam: spare phones as home security cameras"
)]
struct Cli {
    /// A TOML settings file; environment variables (SECURECAM_*) override it.
    #[arg(long, global = true, env = "SECURECAM_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Which components to run: any of signal,relay,recorder,notifier, or all.
        #[arg(long, default_value = "all", value_parser = parse_list)]
        components: std::vec::Vec<Component>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input (one line).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init_logging(settings.log_format);
    match cli.command {
        Command::Serve { components } => {
            let shutdown = shutdown_signal()?;
            let app = Application::build(settings, components).await?;
            app.run_until_stopped(shutdown).await
        }
        Command::Migrate => {
            let url = settings.database_url();
            let db = database::open(&url, settings.database_max_connections).await?;
            db.migrate().await.context("applying migrations")?;
            db.close().await;
            println!("migrations applied to {}", database::redact_url(&url));
            Ok(())
        }
        Command::User {
            command: UserCommand::Create { email, name },
        } => create_user(settings, email, name).await,
    }
}

async fn create_user(settings: Settings, email: String, name: String) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    // The same rules as sign-up, so an account made here is one the API would accept.
    let invalid = |e: securecam_signal::error::ApiError| anyhow::anyhow!("{e}");
    let email = auth::normalize_email(&email);
    auth::validate_email(&email).map_err(invalid)?;
    auth::validate_password(&password).map_err(invalid)?;
    let name = auth::validate_name(&name).map_err(invalid)?;

    let db: Arc<dyn securecam_storage::Database> =
        database::open(&settings.database_url(), settings.database_max_connections).await?;
    db.migrate().await?;
    let password_hash = PasswordHasher::new(settings.signal.argon2)?
        .hash(password)
        .await?;
    let user = match db
        .create_user(
            NewUser {
                email,
                name,
                password_hash,
            },
            NewAuditLog::new("user.create").metadata(serde_json::json!({"via": "cli"})),
        )
        .await
    {
        Ok(user) => user,
        Err(StorageError::Conflict(_)) => anyhow::bail!("an account with this email exists"),
        Err(e) => return Err(e.into()),
    };
    db.close().await;
    println!("{}", user.id);
    Ok(())
}
