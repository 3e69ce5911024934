//! What a push says, whatever carries it: rendered from a job's stored payload when it is
//! sent (so a deep link follows the server's current public URL), within every provider's
//! size limit, and never with a secret in it.

use serde_json::Value;
use uuid::Uuid;

/// Apple and FCM take 4 KiB of payload and Web Push a 4 KiB record; titles and bodies are cut
/// well before that so the whole message, with its keys, always fits.
const MAX_TITLE_CHARS: usize = 100;
const MAX_BODY_CHARS: usize = 240;
const MAX_CAMERA_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// Something happened at a camera: a visible alert.
    Alert(Alert),
    /// Data only, to wake a device that has commands waiting (no alert is shown).
    WakeUp(WakeUp),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The job's id: what the app (and APNs, as `apns-id`) deduplicates on.
    pub delivery_id: Uuid,
    pub title: String,
    pub body: String,
    pub camera_name: Option<String>,
    pub camera_device_id: Option<String>,
    pub event_id: String,
    /// Where tapping the alert leads: the event in the web app.
    pub deep_link: String,
    /// Alerts of one camera replace each other on the device (`apns-collapse-id`, FCM's
    /// `collapse_key`, Web Push's `Topic`) and are grouped (`thread-id`).
    pub collapse_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WakeUp {
    pub delivery_id: Uuid,
    pub command_id: String,
    pub command_type: String,
}

fn cut(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", text[..at].trim_end()),
        None => text.to_string(),
    }
}

fn text(payload: &Value, key: &str) -> Option<String> {
    payload.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The push for a job of type `event` or `command_wakeup`.
pub fn render(
    delivery_id: Uuid,
    kind: &str,
    payload: &Value,
    public_url: &str,
) -> Result<Push, String> {
    match kind {
        "event" => {
            let event_id = text(payload, "event_id").ok_or("the event job has no event_id")?;
            let camera_name = text(payload, "camera_name").map(|n| cut(&n, MAX_CAMERA_NAME_CHARS));
            let what = text(payload, "title").unwrap_or_else(|| "Something happened".into());
            let camera_device_id = text(payload, "camera_device_id");
            // The camera is the headline ("Porch"), what it saw the body ("Motion detected").
            let (title, body) = match &camera_name {
                Some(name) => (name.clone(), what),
                None => ("SecureCam".to_string(), what),
            };
            Ok(Push::Alert(Alert {
                delivery_id,
                title: cut(&title, MAX_TITLE_CHARS),
                body: cut(&body, MAX_BODY_CHARS),
                collapse_key: camera_device_id
                    .as_deref()
                    .map(|id| id.replace('-', ""))
                    .unwrap_or_else(|| event_id.replace('-', "")),
                deep_link: format!("{}/events/{event_id}", public_url.trim_end_matches('/')),
                camera_name,
                camera_device_id,
                event_id,
            }))
        }
        "command_wakeup" => Ok(Push::WakeUp(WakeUp {
            delivery_id,
            command_id: text(payload, "command_id").ok_or("the wake-up job has no command_id")?,
            command_type: text(payload, "command_type").unwrap_or_default(),
        })),
        other => Err(format!("no push is made for jobs of type {other:?}")),
    }
}

impl Push {
    pub fn delivery_id(&self) -> Uuid {
        match self {
            Push::Alert(alert) => alert.delivery_id,
            Push::WakeUp(wake) => wake.delivery_id,
        }
    }

    /// The key/value data every provider carries to the app (FCM wants strings only).
    pub fn data(&self) -> serde_json::Map<String, Value> {
        let mut data = serde_json::Map::new();
        data.insert("delivery_id".into(), self.delivery_id().to_string().into());
        match self {
            Push::Alert(alert) => {
                data.insert("type".into(), "event".into());
                data.insert("event_id".into(), alert.event_id.clone().into());
                if let Some(camera) = &alert.camera_device_id {
                    data.insert("camera_device_id".into(), camera.clone().into());
                }
                if let Some(name) = &alert.camera_name {
                    data.insert("camera_name".into(), name.clone().into());
                }
                data.insert("deep_link".into(), alert.deep_link.clone().into());
            }
            Push::WakeUp(wake) => {
                data.insert("type".into(), "command".into());
                data.insert("command_id".into(), wake.command_id.clone().into());
                data.insert("command_type".into(), wake.command_type.clone().into());
            }
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_is_an_alert_with_its_camera_and_a_deep_link() {
        let id = Uuid::now_v7();
        let push = render(
            id,
            "event",
            &json!({"kind": "event", "event_id": "e1", "camera_device_id": "0191-aa",
                    "camera_name": "Porch", "title": "Motion detected"}),
            "https://cam.example/",
        )
        .unwrap();
        let Push::Alert(alert) = &push else {
            panic!("{push:?}")
        };
        assert_eq!(alert.title, "Porch");
        assert_eq!(alert.body, "Motion detected");
        assert_eq!(alert.deep_link, "https://cam.example/events/e1");
        assert_eq!(alert.collapse_key, "0191aa");
        let data = push.data();
        assert_eq!(data["delivery_id"], id.to_string());
        assert_eq!(data["type"], "event");
        assert!(data.values().all(Value::is_string), "FCM data is strings");
    }

    #[test]
    fn long_texts_are_cut_so_every_provider_takes_the_message() {
        let long = "x".repeat(10_000);
        let push = render(
            Uuid::now_v7(),
            "event",
            &json!({"event_id": "e", "camera_name": long, "title": long}),
            "https://cam.example",
        )
        .unwrap();
        let Push::Alert(alert) = push else { panic!() };
        assert!(alert.title.chars().count() <= MAX_CAMERA_NAME_CHARS + 1);
        assert!(alert.body.chars().count() <= MAX_BODY_CHARS + 1);
        assert!(alert.body.ends_with('…'));
    }

    #[test]
    fn a_wake_up_carries_only_its_command() {
        let push = render(
            Uuid::now_v7(),
            "command_wakeup",
            &json!({"kind": "command", "command_id": "c1", "command_type": "start_stream"}),
            "https://cam.example",
        )
        .unwrap();
        let data = push.data();
        assert_eq!(data["type"], "command");
        assert_eq!(data["command_id"], "c1");
        assert!(!data.contains_key("deep_link"));
        assert!(render(Uuid::now_v7(), "command_wakeup", &json!({}), "x").is_err());
        assert!(render(Uuid::now_v7(), "webhook", &json!({}), "x").is_err());
    }
}
