use std::fmt;
use std::str::FromStr;

/// The services one `securecam serve` can run; any subset, so each can be deployed alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Signal,
    Relay,
    Recorder,
    Notifier,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Signal,
        Component::Relay,
        Component::Recorder,
        Component::Notifier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::Signal => "signal",
            Component::Relay => "relay",
            Component::Recorder => "recorder",
            Component::Notifier => "notifier",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Component {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "signal" => Ok(Component::Signal),
            "relay" | "media-relay" => Ok(Component::Relay),
            "recorder" => Ok(Component::Recorder),
            "notifier" => Ok(Component::Notifier),
            other => Err(format!(
                "unknown component {other:?}; expected signal, relay, recorder or notifier"
            )),
        }
    }
}

/// Parses `signal,relay`; `all` means every component.
pub fn parse_list(text: &str) -> Result<Vec<Component>, String> {
    if text.trim() == "all" {
        return Ok(Component::ALL.to_vec());
    }
    let mut list = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Component>, _>>()?;
    list.sort();
    list.dedup();
    if list.is_empty() {
        return Err("no component given".to_string());
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_subsets() {
        assert_eq!(
            parse_list("signal,relay").unwrap(),
            vec![Component::Signal, Component::Relay]
        );
        assert_eq!(
            parse_list("relay, signal,relay").unwrap(),
            vec![Component::Signal, Component::Relay]
        );
        assert_eq!(parse_list("all").unwrap(), Component::ALL.to_vec());
        assert!(parse_list("signal,bogus").unwrap_err().contains("bogus"));
        assert!(parse_list("").is_err());
    }
}
