//! A user's notification preferences (table `notification_preferences`) and the rule that
//! decides, per event, whether the user's devices get a push.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::notification::SuppressedReason;

/// Local wall-clock times in an IANA time zone; `start > end` spans midnight
/// (`22:00`–`07:00`). Pushes are held back from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour.
    #[schema(example = "22:00")]
    pub start: String,
    #[schema(example = "07:00")]
    pub end: String,
    #[schema(example = "Europe/Riga")]
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    pub quiet_hours: Option<QuietHours>,
    /// Cameras whose events raise no push (they are still listed and sent over the WebSocket).
    #[serde(default)]
    pub muted_camera_ids: Vec<Uuid>,
    /// After an alert about a camera, further events of that camera within this many seconds
    /// raise no push: a burst of motion is one alert.
    #[serde(default)]
    pub cooldown_seconds: u32,
}

/// The longest cooldown accepted: a day.
pub const MAX_COOLDOWN_SECONDS: u32 = 24 * 3600;

impl QuietHours {
    fn parse_time(text: &str) -> Option<NaiveTime> {
        // Exactly `HH:MM`: chrono alone would also take `7:5`.
        if text.len() != 5 {
            return None;
        }
        NaiveTime::parse_from_str(text, "%H:%M").ok()
    }

    /// Why these quiet hours cannot be kept, if they cannot.
    pub fn validate(&self) -> Result<(), String> {
        let (Some(start), Some(end)) = (Self::parse_time(&self.start), Self::parse_time(&self.end))
        else {
            return Err("quiet_hours start and end are HH:MM (24-hour)".into());
        };
        if start == end {
            return Err("quiet_hours start and end must differ".into());
        }
        self.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            format!(
                "unknown time zone {:?} (an IANA name such as Europe/Riga)",
                self.timezone
            )
        })?;
        Ok(())
    }

    /// Whether `at` falls inside them; invalid quiet hours (never stored) are never quiet.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let (Some(start), Some(end), Ok(zone)) = (
            Self::parse_time(&self.start),
            Self::parse_time(&self.end),
            self.timezone.parse::<chrono_tz::Tz>(),
        ) else {
            return false;
        };
        let local = at.with_timezone(&zone).time();
        if start < end {
            start <= local && local < end
        } else {
            local >= start || local < end
        }
    }
}

impl NotificationPreferences {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(quiet) = &self.quiet_hours {
            quiet.validate()?;
        }
        if self.cooldown_seconds > MAX_COOLDOWN_SECONDS {
            return Err(format!(
                "cooldown_seconds must be 0 to {MAX_COOLDOWN_SECONDS}"
            ));
        }
        if self.muted_camera_ids.len() > 1000 {
            return Err("at most 1000 muted cameras".into());
        }
        Ok(())
    }

    /// Whether an event of `camera` at `now` raises a push, given when the user's last push
    /// about that camera went out. Muting beats quiet hours beats the cooldown, so the reason
    /// given is the one that would still hold if the others were lifted.
    pub fn suppression(
        &self,
        camera: Uuid,
        now: DateTime<Utc>,
        last_alert: Option<DateTime<Utc>>,
    ) -> Option<SuppressedReason> {
        if self.muted_camera_ids.contains(&camera) {
            return Some(SuppressedReason::MutedCamera);
        }
        if self.quiet_hours.as_ref().is_some_and(|q| q.contains(now)) {
            return Some(SuppressedReason::QuietHours);
        }
        let cooldown = chrono::Duration::seconds(i64::from(self.cooldown_seconds));
        if self.cooldown_seconds > 0 && last_alert.is_some_and(|last| now - last < cooldown) {
            return Some(SuppressedReason::Cooldown);
        }
        None
    }
}

/// A stored row, as both backends decode it.
#[derive(sqlx::FromRow)]
pub struct PreferencesRow {
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub quiet_hours_timezone: Option<String>,
    #[sqlx(json)]
    pub muted_camera_ids: Vec<Uuid>,
    pub cooldown_seconds: i32,
}

impl From<PreferencesRow> for NotificationPreferences {
    fn from(row: PreferencesRow) -> Self {
        let quiet_hours = match (
            row.quiet_hours_start,
            row.quiet_hours_end,
            row.quiet_hours_timezone,
        ) {
            (Some(start), Some(end), Some(timezone)) => Some(QuietHours {
                start,
                end,
                timezone,
            }),
            _ => None,
        };
        NotificationPreferences {
            quiet_hours,
            muted_camera_ids: row.muted_camera_ids,
            cooldown_seconds: row.cooldown_seconds.max(0) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn quiet(start: &str, end: &str, zone: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            timezone: zone.into(),
        }
    }

    #[test]
    fn quiet_hours_span_midnight_in_their_time_zone() {
        let night = quiet("22:00", "07:00", "Europe/Riga");
        assert!(night.validate().is_ok());
        // Riga is UTC+2 in winter: 21:30 UTC is 23:30 there.
        assert!(night.contains(Utc.with_ymd_and_hms(2026, 12, 1, 21, 30, 0).unwrap()));
        assert!(night.contains(Utc.with_ymd_and_hms(2026, 12, 1, 4, 59, 0).unwrap()));
        assert!(!night.contains(Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap()));
        assert!(!night.contains(Utc.with_ymd_and_hms(2026, 12, 1, 19, 59, 0).unwrap()));
        // Summer time: UTC+3, so 19:30 UTC is 22:30.
        assert!(night.contains(Utc.with_ymd_and_hms(2026, 7, 1, 19, 30, 0).unwrap()));

        let lunch = quiet("12:00", "13:00", "UTC");
        assert!(lunch.contains(Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()));
        assert!(!lunch.contains(Utc.with_ymd_and_hms(2026, 12, 1, 13, 0, 0).unwrap()));
    }

    #[test]
    fn bad_quiet_hours_are_refused() {
        assert!(quiet("7:00", "08:00", "UTC").validate().is_err());
        assert!(quiet("07:00", "07:00", "UTC").validate().is_err());
        assert!(quiet("25:00", "07:00", "UTC").validate().is_err());
        assert!(quiet("22:00", "07:00", "Mars/Olympus").validate().is_err());
        let long = NotificationPreferences {
            cooldown_seconds: MAX_COOLDOWN_SECONDS + 1,
            ..Default::default()
        };
        assert!(long.validate().is_err());
    }

    #[test]
    fn muting_beats_quiet_hours_beats_cooldown() {
        let camera = Uuid::now_v7();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap();
        let mut prefs = NotificationPreferences {
            quiet_hours: Some(quiet("22:00", "07:00", "UTC")),
            muted_camera_ids: vec![camera],
            cooldown_seconds: 60,
        };
        let recent = Some(now - chrono::Duration::seconds(30));
        assert_eq!(
            prefs.suppression(camera, now, recent),
            Some(SuppressedReason::MutedCamera)
        );
        prefs.muted_camera_ids.clear();
        assert_eq!(
            prefs.suppression(camera, now, recent),
            Some(SuppressedReason::QuietHours)
        );
        prefs.quiet_hours = None;
        assert_eq!(
            prefs.suppression(camera, now, recent),
            Some(SuppressedReason::Cooldown)
        );
        let long_ago = Some(now - chrono::Duration::seconds(60));
        assert_eq!(prefs.suppression(camera, now, long_ago), None);
        assert_eq!(prefs.suppression(camera, now, None), None);
    }
}
