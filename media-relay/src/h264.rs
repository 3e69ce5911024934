//! Just enough H.264 RTP (RFC 6184) to know where a viewer may start: a packet that begins a
//! keyframe (an IDR slice, or the SPS that precedes one). Forwarding never parses more.

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// Whether this RTP payload starts a keyframe: a single SPS or IDR NAL unit, a STAP-A that
/// aggregates one, or the first fragment (FU-A start bit) of an IDR.
pub fn starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        NAL_IDR | NAL_SPS => true,
        STAP_A => stap_a_units(&payload[1..]).any(|t| t == NAL_IDR || t == NAL_SPS),
        FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && fu & 0x1f == NAL_IDR),
        _ => false,
    }
}

/// The NAL unit types inside a STAP-A body (16-bit size, then the unit).
fn stap_a_units(mut body: &[u8]) -> impl Iterator<Item = u8> + '_ {
    std::iter::from_fn(move || {
        if body.len() < 3 {
            return None;
        }
        let size = u16::from_be_bytes([body[0], body[1]]) as usize;
        let unit = body.get(2..2 + size)?;
        body = &body[2 + size..];
        unit.first().map(|b| b & 0x1f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_keyframe_starts() {
        assert!(starts_keyframe(&[0x65, 0x88])); // IDR slice
        assert!(starts_keyframe(&[0x67, 0x42])); // SPS
        assert!(!starts_keyframe(&[0x41, 0x9a])); // non-IDR slice
        assert!(!starts_keyframe(&[]));
        // STAP-A with SPS (2 bytes) and PPS (1 byte).
        assert!(starts_keyframe(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]));
        // STAP-A with only a PPS, and a truncated one.
        assert!(!starts_keyframe(&[0x78, 0, 1, 0x68]));
        assert!(!starts_keyframe(&[0x78, 0, 9, 0x67]));
        // FU-A: start of an IDR, middle of an IDR, start of a non-IDR.
        assert!(starts_keyframe(&[0x7c, 0x85, 0xaa]));
        assert!(!starts_keyframe(&[0x7c, 0x05, 0xaa]));
        assert!(!starts_keyframe(&[0x7c, 0x81, 0xaa]));
    }
}
