//! Pairing a phone as a camera without typing a password on it (table `pairing_codes`):
//! the phone starts a code, the owner claims it, the phone polls for its device token.

use std::time::{Duration as StdDuration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use securecam_storage::{
    now, ClaimOutcome, Device, NewAuditLog, NewPairingCode, Platform, PollOutcome, StorageError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::validate_name;
use crate::auth::rate_limit::retry_after_secs;
use crate::auth::tokens::{self, DEVICE_TOKEN_PREFIX, POLL_TOKEN_PREFIX};
use crate::auth::UserCaller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ClientInfo, LinkBase};
use crate::state::AppState;

/// Codes live ten minutes.
const CODE_LIFETIME_MINUTES: i64 = 10;
/// Letters and digits that cannot be mistaken for one another (no I, O, 0, 1).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: usize = 8;
/// Every claim answers no sooner than this, so a valid code and an invalid one take the same
/// time however different the work behind them.
const CLAIM_DURATION: StdDuration = StdDuration::from_millis(250);

#[derive(Debug, Deserialize, ToSchema)]
pub struct StartPairing {
    /// The camera's name, shown to the owner.
    pub name: String,
    pub platform: Platform,
}

#[derive(Serialize, ToSchema)]
pub struct PairingStarted {
    /// Eight letters and digits, shown as `ABCD-EFGH`; case and dashes do not matter.
    pub code: String,
    /// For the phone to show as a QR code.
    pub pair_url: String,
    /// The camera's secret for polling; keep it on the phone.
    pub poll_token: String,
    pub expires_at: DateTime<Utc>,
}

securecam_storage::redacted_debug!(PairingStarted { code, pair_url, expires_at; secret: poll_token });

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClaimPairing {
    pub code: String,
    /// One of the caller's devices to link to the new camera.
    pub viewer_device_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Claimed {
    pub device: Device,
}

#[derive(Deserialize, ToSchema)]
pub struct PollPairing {
    pub poll_token: String,
}

securecam_storage::redacted_debug!(PollPairing { ; secret: poll_token });

#[derive(Serialize, ToSchema)]
pub struct PollAnswer {
    /// `pending` or `claimed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// Shown once, with `claimed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LENGTH)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// What is hashed: upper case, without dashes or spaces.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

fn display_code(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

fn gone() -> ApiError {
    ApiError::client(
        StatusCode::GONE,
        "pairing_code_gone",
        "the pairing code has expired or was used",
    )
}

/// Start pairing (no credential): a short code for the owner to claim.
#[utoipa::path(post, path = "/api/v1/pairing-codes", tag = "pairing", request_body = StartPairing,
    responses((status = 201, body = PairingStarted), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn start(
    State(state): State<AppState>,
    links: LinkBase,
    client: ClientInfo,
    ApiJson(body): ApiJson<StartPairing>,
) -> ApiResult<(StatusCode, Json<PairingStarted>)> {
    state
        .limits()
        .pairing_start_per_ip
        .hit(&client.ip_string().unwrap_or_default(), Instant::now())
        .map_err(|wait| ApiError::too_many_requests(retry_after_secs(wait)))?;
    let name = validate_name(&body.name)?;
    let poll_token = tokens::generate(POLL_TOKEN_PREFIX);
    let expires_at = now() + Duration::minutes(CODE_LIFETIME_MINUTES);
    // 40 random bits: a collision with a live code is rare; try again when it happens.
    for _ in 0..3 {
        let code = new_code();
        let stored = state
            .db()
            .create_pairing_code(NewPairingCode {
                code_hash: tokens::hash(&code),
                poll_token_hash: tokens::hash(&poll_token),
                name: name.clone(),
                platform: body.platform,
                expires_at,
            })
            .await;
        match stored {
            Ok(_) => {
                let code = display_code(&code);
                let pair_url = format!("{}/pair?code={code}", links.as_str());
                return Ok((
                    StatusCode::CREATED,
                    Json(PairingStarted {
                        code,
                        pair_url,
                        poll_token,
                        expires_at,
                    }),
                ));
            }
            Err(StorageError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unexpected(anyhow::anyhow!(
        "no free pairing code after 3 tries"
    )))
}

/// Claim a code (user token): the phone becomes a camera of the caller.
#[utoipa::path(post, path = "/api/v1/pairing-codes/claim", tag = "pairing", request_body = ClaimPairing,
    security(("bearer" = [])),
    responses((status = 200, body = Claimed),
              (status = 404, description = "`pairing_code_not_found` (or an unknown viewer device)", body = Problem),
              (status = 410, description = "`pairing_code_gone`: expired or used", body = Problem),
              (status = 429, body = Problem)))]
pub async fn claim(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(body): ApiJson<ClaimPairing>,
) -> ApiResult<Json<Claimed>> {
    state
        .limits()
        .pairing_claim_per_user
        .hit(&caller.user_id().to_string(), Instant::now())
        .map_err(|wait| ApiError::too_many_requests(retry_after_secs(wait)))?;
    let answer_at = tokio::time::Instant::now() + CLAIM_DURATION;
    let audit = NewAuditLog::new("pairing.claim")
        .ip(client.ip_string())
        .metadata(json!({"viewer_device_id": body.viewer_device_id}));
    let outcome = state
        .db()
        .claim_pairing_code(
            &tokens::hash(&normalize_code(&body.code)),
            caller.user_id(),
            body.viewer_device_id,
            now(),
            audit,
        )
        .await;
    tokio::time::sleep_until(answer_at).await;
    match outcome? {
        ClaimOutcome::Claimed(device) => Ok(Json(Claimed { device })),
        ClaimOutcome::NotFound => Err(ApiError::client(
            StatusCode::NOT_FOUND,
            "pairing_code_not_found",
            "no such pairing code",
        )),
        ClaimOutcome::Gone => Err(gone()),
    }
}

/// Poll (the camera, with its poll token): 202 until claimed, then the device and its token,
/// once.
#[utoipa::path(post, path = "/api/v1/pairing-codes/poll", tag = "pairing", request_body = PollPairing,
    responses((status = 202, body = PollAnswer), (status = 200, body = PollAnswer),
              (status = 410, description = "`pairing_code_gone`: expired, unknown or already delivered", body = Problem)))]
pub async fn poll(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PollPairing>,
) -> ApiResult<Response> {
    let device_token = tokens::generate(DEVICE_TOKEN_PREFIX);
    let outcome = state
        .db()
        .poll_pairing_code(
            &tokens::hash(body.poll_token.trim()),
            &tokens::hash(&device_token),
            now(),
        )
        .await?;
    match outcome {
        PollOutcome::Pending => Ok((
            StatusCode::ACCEPTED,
            Json(PollAnswer {
                status: "pending",
                device: None,
                device_token: None,
            }),
        )
            .into_response()),
        PollOutcome::Delivered(device) => Ok((
            StatusCode::OK,
            Json(PollAnswer {
                status: "claimed",
                device: Some(device),
                device_token: Some(device_token),
            }),
        )
            .into_response()),
        PollOutcome::Gone => Err(gone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_unambiguous_and_forgiving() {
        let code = new_code();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        let shown = display_code(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(normalize_code(&shown.to_lowercase()), code);
        assert_eq!(normalize_code(" abcd - efgh "), "ABCDEFGH");
    }
}
