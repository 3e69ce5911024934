//! Accounts: sign-up, sign-in, sign-out, sessions, password reset (tables `users`, `session`,
//! `verification`).

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use securecam_storage::{
    now, NewAuditLog, NewSession, NewUser, Page, SessionInfo, StorageError, User,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::rate_limit::{retry_after_secs, sign_in_delay};
use crate::auth::tokens::{self, RESET_TOKEN_PREFIX, USER_TOKEN_PREFIX};
use crate::auth::UserCaller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo, LinkBase};
use crate::mail::Mail;
use crate::pagination::ListQuery;
use crate::state::AppState;
use crate::types::bus::Revocation;
use crate::types::text::refused_character;

const MIN_PASSWORD_LEN: usize = 8;
const MAX_PASSWORD_LEN: usize = 256;

#[derive(Deserialize, ToSchema)]
pub struct SignUpRequest {
    pub email: String,
    /// 8 to 256 characters.
    pub password: String,
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

/// A new session's credential, shown once.
#[derive(Serialize, ToSchema)]
pub struct NewSessionToken {
    pub id: Uuid,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: User,
    pub session: NewSessionToken,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentSession {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    pub user: User,
    pub session: CurrentSession,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub new_password: String,
}

securecam_storage::redacted_debug!(SignUpRequest { email, name; secret: password });
securecam_storage::redacted_debug!(SignInRequest { email; secret: password });
securecam_storage::redacted_debug!(NewSessionToken { id, expires_at; secret: token });
securecam_storage::redacted_debug!(PasswordResetConfirm { ; secret: token, new_password });

/// Emails compare case-insensitively; they are kept lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn validate_email(email: &str) -> ApiResult<()> {
    let valid = email.len() <= 320
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid("email is not a valid address"))
    }
}

pub fn validate_password(password: &str) -> ApiResult<()> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(ApiError::invalid(format!(
            "password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

pub fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be 1 to 200 characters"));
    }
    if let Some(c) = refused_character(name) {
        return Err(ApiError::invalid(format!(
            "name must not contain control or bidirectional-override characters (U+{:04X})",
            c as u32
        )));
    }
    Ok(name.to_string())
}

fn rate_limited(result: Result<(), std::time::Duration>) -> ApiResult<()> {
    result.map_err(|wait| ApiError::too_many_requests(retry_after_secs(wait)))
}

/// The rate-limit key of a client address. An IPv6 client usually holds a whole /64, so it
/// is limited as one.
fn ip_key(client: &ClientInfo) -> String {
    match client.ip {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        Some(ip) => ip.to_string(),
        None => "unknown".to_string(),
    }
}

/// Opens a session for `user` and returns its token, shown this once; `audit` is written
/// with it.
async fn open_session(
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    audit: Option<NewAuditLog>,
) -> ApiResult<NewSessionToken> {
    let token = tokens::generate(USER_TOKEN_PREFIX);
    let lifetime =
        Duration::from_std(state.config().session_lifetime).map_err(anyhow::Error::from)?;
    let session = state
        .db()
        .create_session(
            NewSession {
                user_id: user.id,
                token_hash: tokens::hash(&token),
                expires_at: now() + lifetime,
                ip_address: client.ip_string(),
                user_agent: client.user_agent.clone(),
            },
            audit,
        )
        .await?;
    Ok(NewSessionToken {
        id: session.id,
        token,
        expires_at: session.expires_at,
    })
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/v1/auth/sign-up", tag = "auth", request_body = SignUpRequest,
    responses((status = 201, body = AuthResponse), (status = 409, description = "`email_taken`", body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn sign_up(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignUpRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    rate_limited(
        state
            .limits()
            .sign_up_per_ip
            .hit(&ip_key(&client), Instant::now()),
    )?;
    let email = normalize_email(&body.email);
    validate_email(&email)?;
    validate_password(&body.password)?;
    let name = validate_name(&body.name)?;
    let password_hash = state.passwords().hash(body.password).await?;
    let user = match state
        .db()
        .create_user(
            NewUser {
                email,
                name,
                password_hash,
            },
            NewAuditLog::new("auth.sign_up").ip(client.ip_string()),
        )
        .await
    {
        Ok(user) => user,
        Err(StorageError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "email_taken",
                "an account with this email exists",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let session = open_session(&state, &user, &client, None).await?;
    Ok((StatusCode::CREATED, Json(AuthResponse { user, session })))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = "auth", request_body = SignInRequest,
    responses((status = 200, body = AuthResponse),
              (status = 401, description = "`invalid_credentials`", body = Problem),
              (status = 429, description = "too many attempts from this address or for this account; see Retry-After", body = Problem)))]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignInRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let limits = state.limits();
    let email = normalize_email(&body.email);
    let account_key = format!("account:{email}");
    let address_key = format!("account:{email}|{}", ip_key(&client));
    let at = Instant::now();
    rate_limited(limits.sign_in_per_ip.hit(&ip_key(&client), at))?;
    // Guesses at an account are refused per address: every attempt takes a slot before the
    // (slow) password check, atomically, so concurrent guesses cannot all slip past the
    // limit; a successful sign-in gives the slots back. Another address is never refused...
    rate_limited(
        limits
            .sign_in_failures_per_account_and_address
            .hit(&address_key, at),
    )?;
    // ...but waits a little once the account has failed often from anywhere.
    let delay = sign_in_delay(
        limits.sign_in_failures_per_account.count(&account_key, at),
        state.config().rate_limits.sign_in_slow_after_failures.max,
    );
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let credentials = state.db().get_user_credentials(&email).await?;
    let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
    // Verify even when there is no such account, against a dummy hash: same cost, same time.
    let ok = state.passwords().verify(body.password, stored).await?;
    match (ok, credentials) {
        (true, Some(credentials)) => {
            limits
                .sign_in_failures_per_account_and_address
                .clear(&address_key);
            limits.sign_in_failures_per_account.clear(&account_key);
            let user = credentials.user;
            let audit = NewAuditLog::new("auth.sign_in")
                .ip(client.ip_string())
                .metadata(json!({"user_agent": client.user_agent}));
            let session = open_session(&state, &user, &client, Some(audit)).await?;
            Ok(Json(AuthResponse { user, session }))
        }
        (_, credentials) => {
            limits
                .sign_in_failures_per_account
                .record(&account_key, Instant::now());
            let mut entry = NewAuditLog::new("auth.sign_in_failed").ip(client.ip_string());
            entry = match credentials {
                Some(c) => entry
                    .owner(c.user.id)
                    .target("user", c.user.id)
                    .metadata(json!({"reason": "wrong_password"})),
                None => entry.metadata(json!({"reason": "unknown_email"})),
            };
            state.audit(entry).await?;
            Err(ApiError::client(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "email or password is wrong",
            ))
        }
    }
}

/// End the current session; its token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn sign_out(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
) -> ApiResult<StatusCode> {
    let audit = NewAuditLog::new("auth.sign_out").ip(client.ip_string());
    state
        .db()
        .delete_session(caller.user_id(), caller.session.id, audit)
        .await?;
    state.revoke(Revocation::Session {
        id: caller.session.id,
    });
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user and the session of this token.
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SessionResponse), (status = 401, body = Problem)))]
pub async fn current_session(
    State(state): State<AppState>,
    caller: UserCaller,
) -> ApiResult<Json<SessionResponse>> {
    let user = state
        .db()
        .get_user(caller.user_id())
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    let s = caller.session;
    Ok(Json(SessionResponse {
        user,
        session: CurrentSession {
            id: s.id,
            expires_at: s.expires_at,
            ip_address: s.ip_address,
            user_agent: s.user_agent,
        },
    }))
}

/// The caller's sessions, newest first.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<SessionInfo>), (status = 401, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: UserCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<SessionInfo>>> {
    let page = state
        .db()
        .list_sessions(caller.user_id(), query.page()?)
        .await?;
    let current = caller.session.id;
    Ok(Json(page.map(|s| s.info(current))))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "session")?;
    let audit = NewAuditLog::new("auth.session_revoke").ip(client.ip_string());
    if !state
        .db()
        .delete_session(caller.user_id(), id, audit)
        .await?
    {
        return Err(ApiError::not_found("session"));
    }
    state.revoke(Revocation::Session { id });
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a password-reset link. Always 202, whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/request", tag = "auth", request_body = PasswordResetRequest,
    responses((status = 202), (status = 429, body = Problem)))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    links: LinkBase,
    client: ClientInfo,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    rate_limited(
        state
            .limits()
            .password_reset_per_ip
            .hit(&ip_key(&client), Instant::now()),
    )?;
    let email = normalize_email(&body.email);
    // The answer must not depend on whether the account exists, in content or in time: the
    // lookup, the token and the mail happen after the response, in the background.
    tokio::spawn(async move {
        if let Err(err) = send_reset_link(&state, &email, &client, links.as_str()).await {
            tracing::error!(error = ?err, "password reset mail failed");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

async fn send_reset_link(
    state: &AppState,
    email: &str,
    client: &ClientInfo,
    base: &str,
) -> anyhow::Result<()> {
    let Some(credentials) = state.db().get_user_credentials(email).await? else {
        return Ok(());
    };
    let user = credentials.user;
    // A flood of reset mails to one inbox is refused quietly (the answer was already 202).
    if state
        .limits()
        .password_reset_per_account
        .hit(&user.id.to_string(), Instant::now())
        .is_err()
    {
        tracing::warn!(user_id = %user.id, "password reset requests over the per-account limit");
        return Ok(());
    }
    let token = tokens::generate(RESET_TOKEN_PREFIX);
    let lifetime = Duration::from_std(state.config().password_reset_lifetime)?;
    // Only the newest link works: this replaces any older one, with its audit row.
    state
        .db()
        .replace_verification(
            &format!("password-reset:{}", user.id),
            &tokens::hash(&token),
            now() + lifetime,
            NewAuditLog::new("auth.password_reset_request")
                .owner(user.id)
                .target("user", user.id)
                .ip(client.ip_string()),
        )
        .await?;
    let link = format!("{base}/reset-password?token={token}");
    let minutes = lifetime.num_minutes();
    state
        .mailer()
        .send(Mail {
            to: user.email.clone(),
            subject: "Reset your SecureCam password".to_string(),
            body: format!(
                "Someone asked to reset the password of your SecureCam account.\n\n\
                 To choose a new password, open this link within {minutes} minutes:\n{link}\n\n\
                 Your reset token: {token}\n\n\
                 A new password signs out every session and every viewing device (phones and \
                 browsers that watch your cameras); camera phones stay paired.\n\n\
                 If it was not you, ignore this message; your password stays as it is.\n"
            ),
        })
        .await
}

/// Set a new password with a reset token; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = PasswordResetConfirm,
    responses((status = 204), (status = 400, description = "`invalid_reset_token`: unknown, used or expired", body = Problem),
              (status = 422, body = Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<PasswordResetConfirm>,
) -> ApiResult<StatusCode> {
    validate_password(&body.new_password)?;
    let invalid = || {
        ApiError::bad_request(
            "invalid_reset_token",
            "the reset token is unknown, used or expired",
        )
    };
    let verification = state
        .db()
        .take_verification(&tokens::hash(body.token.trim()), now())
        .await?
        .ok_or_else(invalid)?;
    let user_id = verification
        .identifier
        .strip_prefix("password-reset:")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(invalid)?;
    let hash = state.passwords().hash(body.new_password).await?;
    let signed_out = state
        .db()
        .set_password_and_revoke_sessions(
            user_id,
            &hash,
            NewAuditLog::new("auth.password_reset").ip(client.ip_string()),
        )
        .await?;
    state.revoke(Revocation::UserSessions { user: user_id });
    // A device made with a stolen session would outlive the reset: viewer devices are
    // signed out too, their connections closed wherever they are.
    for device in &signed_out {
        state.device_signed_out(*device);
    }
    if let Some(user) = state.db().get_user(user_id).await? {
        let devices = match signed_out.len() {
            1 => "1 viewing device".to_string(),
            n => format!("{n} viewing devices"),
        };
        let mail = Mail {
            to: user.email,
            subject: "Your SecureCam password was changed".to_string(),
            body: format!(
                "The password of your SecureCam account was just changed.\n\n\
                 Every session and {devices} (phones and browsers that watch your cameras) \
                 were signed out: sign in again on each. Camera phones stay paired.\n\n\
                 If it was not you, reset your password again now.\n"
            ),
        };
        if let Err(err) = state.mailer().send(mail).await {
            tracing::warn!(error = ?err, "password change notice not sent");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let sign_in = SignInRequest {
            email: "a@b.co".into(),
            password: "hunter2hunter2".into(),
        };
        let reset = PasswordResetConfirm {
            token: "scr_secret".into(),
            new_password: "new secret pw".into(),
        };
        let new_user = securecam_storage::NewUser {
            email: "a@b.co".into(),
            name: "A".into(),
            password_hash: "$argon2id$hash".into(),
        };
        let text = format!("{sign_in:?} {reset:?} {new_user:?}");
        for secret in [
            "hunter2hunter2",
            "scr_secret",
            "new secret pw",
            "$argon2id$hash",
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("a@b.co") && text.contains("[REDACTED]"));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let client = |ip: &str| ClientInfo {
            ip: Some(ip.parse().unwrap()),
            user_agent: None,
        };
        assert_eq!(
            ip_key(&client("2001:db8:1:2:aaaa::1")),
            ip_key(&client("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            ip_key(&client("2001:db8:1:2::1")),
            ip_key(&client("2001:db8:1:3::1"))
        );
        assert_eq!(ip_key(&client("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(ip_key(&client("192.0.2.7")), "192.0.2.7");
    }
}
