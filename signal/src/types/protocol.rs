//! The JSON frames of `GET /api/v1/ws` (see `../shared/API.md`). Every frame is
//! `{"type": "...", ...}`; a frame that expects an answer carries `ref`, echoed back.

use chrono::{DateTime, Utc};
use securecam_storage::{
    Command, CommandStatus, Device, DeviceStatus, Event, StreamSession, Trigger,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Device → server.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// A heartbeat a page can send (browsers cannot send WebSocket pings), with the battery
    /// when the device can read it.
    #[serde(rename = "ping")]
    Ping {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        battery: Option<BatteryReport>,
    },
    /// The device's answer to a `command`.
    #[serde(rename = "command.ack")]
    CommandAck {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        command_id: Uuid,
        /// `acknowledged` or `failed`.
        status: CommandStatus,
        error: Option<String>,
        result: Option<Value>,
    },
    /// A command to another device; answered with `command.accepted`.
    #[serde(rename = "command.send")]
    CommandSend {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        target_device_id: Uuid,
        command_type: String,
        payload: Option<Value>,
        ttl_seconds: Option<u64>,
        /// A resent `command.send` with the same key answers with the first command.
        idempotency_key: Option<String>,
    },
    /// A camera reports that something started; answered with `event.started`.
    #[serde(rename = "event.start")]
    EventStart {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        triggered_by: Trigger,
        title: Option<String>,
        started_at: Option<DateTime<Utc>>,
    },
    /// A camera reports that an event is over; answered with `event.ended`.
    #[serde(rename = "event.end")]
    EventEnd {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        event_id: Uuid,
        ended_at: Option<DateTime<Utc>>,
    },
}

/// `battery` on a `ping`: `level` from 0 to 1, as the Battery Status API gives it.
#[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
pub struct BatteryReport {
    pub level: f64,
    pub charging: Option<bool>,
}

impl BatteryReport {
    /// The reading in percent, or why it is not one.
    pub fn reading(&self) -> Result<securecam_storage::Battery, String> {
        if !(0.0..=1.0).contains(&self.level) {
            return Err(format!(
                "battery.level is a fraction from 0 to 1, not {}",
                self.level
            ));
        }
        Ok(securecam_storage::Battery {
            level: (self.level * 100.0).round() as i16,
            charging: self.charging,
        })
    }
}

impl ClientMessage {
    /// Every type this server understands; anything else is `unknown_type`.
    pub const TYPES: &'static [&'static str] = &[
        "ping",
        "command.ack",
        "command.send",
        "event.start",
        "event.end",
    ];
}

/// Server → device.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    #[serde(rename = "hello")]
    Hello {
        device: Device,
        heartbeat_interval_ms: u64,
        server_time: DateTime<Utc>,
    },
    #[serde(rename = "pong")]
    Pong {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    #[serde(rename = "presence")]
    Presence {
        device_id: Uuid,
        status: DeviceStatus,
    },
    /// A command for this device; answer with `command.ack`.
    #[serde(rename = "command")]
    Command { command: Command },
    #[serde(rename = "command.accepted")]
    CommandAccepted {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
        command: Command,
    },
    /// What became of a command this device sent (acknowledged, failed, expired, cancelled).
    #[serde(rename = "command.updated")]
    CommandUpdated { command: Command },
    #[serde(rename = "event.started")]
    EventStarted {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
        event: Event,
    },
    #[serde(rename = "event.ended")]
    EventEnded {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
        event: Event,
    },
    /// A camera of the owner, or one linked to this device, reported an event.
    #[serde(rename = "event.created")]
    EventCreated { event: Event },
    /// An event this device was told of ended or was acknowledged.
    #[serde(rename = "event.updated")]
    EventUpdated { event: Event },
    /// A stream session this device requested changed status.
    #[serde(rename = "stream.updated")]
    StreamUpdated { stream_session: StreamSession },
    /// A clip of the owner's camera, or of one linked to this device, can be played.
    #[serde(rename = "recording.available")]
    RecordingAvailable {
        recording: super::views::RecordingView,
    },
    #[serde(rename = "error")]
    Error {
        code: &'static str,
        message: String,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }
}

/// Why a frame could not be understood; answered with an `error` frame, connection kept.
#[derive(Debug, PartialEq)]
pub struct BadFrame {
    pub code: &'static str,
    pub message: String,
    pub reference: Option<Value>,
}

impl BadFrame {
    pub fn into_message(self) -> ServerMessage {
        ServerMessage::Error {
            code: self.code,
            message: self.message,
            reference: self.reference,
        }
    }
}

/// Parses one text frame, telling malformed JSON, an unknown type and a known type with bad
/// fields apart.
pub fn parse(text: &str) -> Result<ClientMessage, BadFrame> {
    let value: Value = serde_json::from_str(text).map_err(|e| BadFrame {
        code: "invalid_json",
        message: format!("frame is not JSON: {e}"),
        reference: None,
    })?;
    let reference = value.get("ref").cloned();
    let Some(kind) = value.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Err(BadFrame {
            code: "invalid_message",
            message: "a frame is an object with a string `type`".to_string(),
            reference,
        });
    };
    if !ClientMessage::TYPES.contains(&kind.as_str()) {
        return Err(BadFrame {
            code: "unknown_type",
            message: format!("unknown message type {kind:?}"),
            reference,
        });
    }
    serde_json::from_value(value).map_err(|e| BadFrame {
        code: "invalid_message",
        message: format!("invalid {kind} message: {e}"),
        reference,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_and_classifies_bad_frames() {
        assert_eq!(
            parse(r#"{"type":"ping","ref":7}"#).unwrap(),
            ClientMessage::Ping {
                reference: Some(json!(7)),
                battery: None,
            }
        );
        let ClientMessage::Ping {
            battery: Some(battery),
            ..
        } = parse(r#"{"type":"ping","battery":{"level":0.426,"charging":true}}"#).unwrap()
        else {
            panic!("a ping with its battery");
        };
        assert_eq!(
            battery.reading(),
            Ok(securecam_storage::Battery {
                level: 43,
                charging: Some(true)
            })
        );
        let too_full = BatteryReport {
            level: 42.0,
            charging: None,
        };
        assert!(too_full.reading().unwrap_err().contains("from 0 to 1"));
        assert_eq!(parse("{nope").unwrap_err().code, "invalid_json");
        assert_eq!(parse("[1,2]").unwrap_err().code, "invalid_message");
        let unknown = parse(r#"{"type":"teleport","ref":"a"}"#).unwrap_err();
        assert_eq!(unknown.code, "unknown_type");
        assert_eq!(
            unknown.reference,
            Some(json!("a")),
            "the ref is echoed even in errors"
        );
    }

    #[test]
    fn server_frames_carry_their_type() {
        let pong = ServerMessage::Pong {
            reference: Some(json!("x")),
        }
        .to_json();
        assert_eq!(pong, r#"{"type":"pong","ref":"x"}"#);
        let error = ServerMessage::Error {
            code: "unknown_type",
            message: "m".into(),
            reference: None,
        };
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","code":"unknown_type","message":"m"}"#
        );
    }
}
