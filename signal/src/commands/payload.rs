//! Command types and their payloads (`../shared/API.md`, Commands). Each type has a strict
//! schema: unknown fields and out-of-range values are refused with 422 before anything is
//! stored, and what is stored is the normalised payload.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Why a command could not be accepted as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// 400 `unknown_command_type`.
    UnknownType(String),
    /// Only the server issues this type (403 `server_issued_command`).
    ServerIssued(&'static str),
    /// 422 `invalid_payload`.
    Invalid(String),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartStream {
    pub stream_session_id: Uuid,
    pub publish_endpoint: String,
    pub publish_token: String,
    pub ice_servers: Vec<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StopStream {
    stream_session_id: Uuid,
}

/// For types without parameters: `{}` or no payload at all.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetMotionDetection {
    enabled: bool,
    /// 1 (least sensitive) to 100; may be left out to keep the camera's current setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    sensitivity: Option<u8>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Facing {
    Front,
    Back,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchCamera {
    facing: Facing,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetTorch {
    on: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaySiren {
    seconds: u8,
}

/// Every command type, in the contract's order.
pub const COMMAND_TYPES: &[&str] = &[
    "start_stream",
    "stop_stream",
    "take_snapshot",
    "start_recording",
    "stop_recording",
    "set_motion_detection",
    "switch_camera",
    "set_torch",
    "play_siren",
    "ping",
];

/// Checks a client's command and returns the payload to store.
pub fn validate_client_command(
    command_type: &str,
    payload: Option<Value>,
) -> Result<Value, PayloadError> {
    let payload = match payload {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(value @ Value::Object(_)) => value,
        Some(_) => {
            return Err(PayloadError::Invalid(
                "payload must be a JSON object".into(),
            ))
        }
    };
    match command_type {
        "start_stream" => Err(PayloadError::ServerIssued(
            "start_stream is issued by the server: create a stream session instead",
        )),
        "stop_stream" => normalise::<StopStream>(command_type, payload),
        "take_snapshot" | "start_recording" | "stop_recording" | "ping" => {
            normalise::<Empty>(command_type, payload)
        }
        "set_motion_detection" => {
            let parsed: SetMotionDetection = parse(command_type, payload)?;
            if parsed.sensitivity.is_some_and(|s| !(1..=100).contains(&s)) {
                return Err(PayloadError::Invalid(
                    "set_motion_detection: sensitivity must be between 1 and 100".into(),
                ));
            }
            Ok(to_value(&parsed))
        }
        "switch_camera" => normalise::<SwitchCamera>(command_type, payload),
        "set_torch" => normalise::<SetTorch>(command_type, payload),
        "play_siren" => {
            let parsed: PlaySiren = parse(command_type, payload)?;
            if !(1..=60).contains(&parsed.seconds) {
                return Err(PayloadError::Invalid(
                    "play_siren: seconds must be between 1 and 60".into(),
                ));
            }
            Ok(to_value(&parsed))
        }
        other => Err(PayloadError::UnknownType(other.to_string())),
    }
}

fn parse<T: DeserializeOwned>(command_type: &str, payload: Value) -> Result<T, PayloadError> {
    serde_json::from_value(payload)
        .map_err(|e| PayloadError::Invalid(format!("{command_type}: {e}")))
}

fn normalise<T: DeserializeOwned + Serialize>(
    command_type: &str,
    payload: Value,
) -> Result<Value, PayloadError> {
    Ok(to_value(&parse::<T>(command_type, payload)?))
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("payload types always serialise")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(command_type: &str, payload: Value) -> Result<Value, PayloadError> {
        validate_client_command(command_type, Some(payload))
    }

    #[test]
    fn accepts_every_client_type_with_a_valid_payload() {
        let id = Uuid::now_v7();
        let valid = [
            ("stop_stream", json!({"stream_session_id": id})),
            ("take_snapshot", json!({})),
            ("start_recording", json!({})),
            ("stop_recording", json!({})),
            (
                "set_motion_detection",
                json!({"enabled": true, "sensitivity": 100}),
            ),
            ("set_motion_detection", json!({"enabled": false})),
            ("switch_camera", json!({"facing": "front"})),
            ("set_torch", json!({"on": true})),
            ("play_siren", json!({"seconds": 60})),
            ("ping", json!({})),
        ];
        for (kind, payload) in valid {
            assert_eq!(check(kind, payload.clone()), Ok(payload), "{kind}");
        }
        assert_eq!(validate_client_command("ping", None), Ok(json!({})));
    }

    #[test]
    fn refuses_bad_payloads_unknown_types_and_server_types() {
        let invalid = [
            (
                "set_motion_detection",
                json!({"enabled": true, "sensitivity": 0}),
            ),
            (
                "set_motion_detection",
                json!({"enabled": true, "sensitivity": 101}),
            ),
            ("set_motion_detection", json!({"sensitivity": 5})),
            ("switch_camera", json!({"facing": "up"})),
            ("set_torch", json!({"on": "yes"})),
            ("play_siren", json!({"seconds": 0})),
            ("play_siren", json!({"seconds": 61})),
            ("play_siren", json!({"seconds": 1000})),
            ("stop_stream", json!({"stream_session_id": "nope"})),
            ("ping", json!({"extra": 1})),
            ("take_snapshot", json!([1])),
        ];
        for (kind, payload) in invalid {
            assert!(
                matches!(check(kind, payload.clone()), Err(PayloadError::Invalid(_))),
                "{kind} {payload}"
            );
        }
        assert_eq!(
            check("teleport", json!({})),
            Err(PayloadError::UnknownType("teleport".into()))
        );
        assert!(matches!(
            check("start_stream", json!({})),
            Err(PayloadError::ServerIssued(_))
        ));
    }
}
