//! Which leg a STUN binding request is for, from its USERNAME attribute
//! (`<our ufrag>:<their ufrag>`, RFC 8445 §7.2.2) — one map lookup instead of asking every
//! leg. str0m still checks the message integrity; this only routes.

const HEADER_LEN: usize = 20;
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;

/// The local (our) ufrag of a STUN message, if it is one and carries a USERNAME.
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    if datagram.len() < HEADER_LEN || datagram[0] & 0xc0 != 0 || datagram[4..8] != MAGIC_COOKIE {
        return None;
    }
    let mut attrs = &datagram[HEADER_LEN..];
    while attrs.len() >= 4 {
        let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = u16::from_be_bytes([attrs[2], attrs[3]]) as usize;
        let value = attrs.get(4..4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Attributes are padded to four bytes.
        let padded = 4 + len.div_ceil(4) * 4;
        attrs = attrs.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0, 0];
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        // A PRIORITY attribute first, then USERNAME (padded).
        m.extend_from_slice(&[0x00, 0x24, 0, 4, 1, 2, 3, 4]);
        m.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        m.extend_from_slice(&(username.len() as u16).to_be_bytes());
        m.extend_from_slice(username.as_bytes());
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn finds_the_local_ufrag() {
        assert_eq!(local_ufrag(&binding_request("abcd:xyz")), Some("abcd"));
        assert_eq!(local_ufrag(&binding_request("odd12:q")), Some("odd12"));
        assert_eq!(local_ufrag(b"not stun at all, just text"), None);
        assert_eq!(local_ufrag(&binding_request("abcd:xyz")[..22]), None);
        // RTP (version bits 10) is not STUN.
        assert_eq!(local_ufrag(&[0x80; 40]), None);
    }
}
