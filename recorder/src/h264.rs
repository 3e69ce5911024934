//! H.264 access units as they come off the depacketizer (Annex B: NAL units behind start codes)
//! turned into MP4 samples (each NAL unit behind a 4-byte length), and the parameter sets an
//! MP4 `avcC` box needs. No decoding: the recorder only re-frames what the camera sent.

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{decode_nal, BitReader};

/// NAL unit types the recorder cares about (ITU-T H.264 table 7-1).
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

/// The NAL units of an Annex B byte stream, without their start codes.
pub fn nal_units(annex_b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = annex_b;
    std::iter::from_fn(move || loop {
        // Skip to just after the next start code (00 00 01, or 00 00 00 01).
        let start = find_start_code(rest)?;
        rest = &rest[start..];
        let end = find_start_code(rest)
            .map(|next| next - 3)
            .unwrap_or(rest.len());
        // A four-byte start code leaves its leading zero on the previous unit; trailing zero
        // bytes belong to no unit (a NAL unit never ends in 0x00).
        let mut unit = &rest[..end];
        while let [head @ .., 0] = unit {
            unit = head;
        }
        rest = &rest[end..];
        if !unit.is_empty() {
            return Some(unit);
        }
    })
}

/// Offset just past the first `00 00 01` in `data`.
fn find_start_code(data: &[u8]) -> Option<usize> {
    data.windows(3).position(|w| w == [0, 0, 1]).map(|i| i + 3)
}

pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// What an MP4 video track needs to describe the stream: the first SPS and PPS seen, and the
/// picture size and profile the SPS declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterSets {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub width: u16,
    pub height: u16,
    pub profile: u8,
    pub compatibility: u8,
    pub level: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum H264Error {
    #[error("the access unit holds no NAL unit")]
    Empty,
    #[error("unreadable sequence parameter set: {0}")]
    BadSps(String),
}

/// One access unit (a frame) as an MP4 sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// Length-prefixed NAL units (4-byte big-endian lengths), access unit delimiters dropped.
    /// SPS and PPS stay in the sample too, so a decoder starting at any keyframe has them.
    pub sample: Vec<u8>,
    /// Holds an IDR slice: a decoder can start here.
    pub keyframe: bool,
    /// The SPS and PPS this access unit carried, when it carried both.
    pub parameter_sets: Option<ParameterSets>,
}

/// Re-frames one Annex B access unit for MP4.
pub fn access_unit(annex_b: &[u8]) -> Result<AccessUnit, H264Error> {
    let mut sample = Vec::with_capacity(annex_b.len() + 16);
    let mut keyframe = false;
    let (mut sps, mut pps) = (None, None);
    for nal in nal_units(annex_b) {
        match nal_type(nal) {
            NAL_AUD => continue,
            NAL_IDR => keyframe = true,
            NAL_SPS => sps = Some(nal),
            NAL_PPS => pps = Some(nal),
            _ => {}
        }
        sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        sample.extend_from_slice(nal);
    }
    if sample.is_empty() {
        return Err(H264Error::Empty);
    }
    let parameter_sets = match (sps, pps) {
        (Some(sps), Some(pps)) => Some(parameter_sets(sps, pps)?),
        _ => None,
    };
    Ok(AccessUnit {
        sample,
        keyframe,
        parameter_sets,
    })
}

fn parameter_sets(sps: &[u8], pps: &[u8]) -> Result<ParameterSets, H264Error> {
    let bad = |e: String| H264Error::BadSps(e);
    if sps.len() < 4 {
        return Err(bad("shorter than its header".into()));
    }
    let rbsp = decode_nal(sps).map_err(|e| bad(e.to_string()))?;
    let parsed =
        SeqParameterSet::from_bits(BitReader::new(&*rbsp)).map_err(|e| bad(format!("{e:?}")))?;
    let (width, height) = parsed
        .pixel_dimensions()
        .map_err(|e| bad(format!("{e:?}")))?;
    Ok(ParameterSets {
        sps: sps.to_vec(),
        pps: pps.to_vec(),
        width: width.min(u16::MAX as u32) as u16,
        height: height.min(u16::MAX as u32) as u16,
        profile: sps[1],
        compatibility: sps[2],
        level: sps[3],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// SPS of a 320×240 constrained-baseline stream (x264), and a PPS.
    pub const SPS_320X240: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];
    pub const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

    #[test]
    fn splits_annex_b_with_three_and_four_byte_start_codes() {
        let stream = [
            &[0, 0, 0, 1, 0x09, 0xf0][..],
            &[0, 0, 1, 0x67, 0x42][..],
            &[0, 0, 0, 1, 0x65, 0x88, 0x00][..],
        ]
        .concat();
        let units: Vec<&[u8]> = nal_units(&stream).collect();
        // Trailing zeros (of a four-byte start code, or padding) are not part of a unit.
        assert_eq!(units, vec![&[0x09, 0xf0][..], &[0x67, 0x42], &[0x65, 0x88]]);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
        assert_eq!(nal_units(b"no start code").count(), 0);
    }

    #[test]
    fn a_keyframe_becomes_a_length_prefixed_sample_with_its_parameter_sets() {
        let idr = [0x65, 0x88, 0x84, 0x21];
        let stream = [
            &[0, 0, 0, 1, NAL_AUD, 0xf0][..],
            &[0, 0, 0, 1][..],
            SPS_320X240,
            &[0, 0, 0, 1][..],
            PPS,
            &[0, 0, 1][..],
            &idr[..],
        ]
        .concat();
        let unit = access_unit(&stream).unwrap();
        assert!(unit.keyframe);
        let params = unit.parameter_sets.unwrap();
        assert_eq!((params.width, params.height), (320, 240));
        assert_eq!((params.profile, params.level), (0x42, 0x0d));
        let expected = [
            &(SPS_320X240.len() as u32).to_be_bytes()[..],
            SPS_320X240,
            &(PPS.len() as u32).to_be_bytes()[..],
            PPS,
            &4u32.to_be_bytes()[..],
            &idr[..],
        ]
        .concat();
        assert_eq!(
            unit.sample, expected,
            "no delimiter, lengths instead of start codes"
        );
    }

    #[test]
    fn a_delta_frame_is_no_keyframe_and_garbage_is_an_error() {
        let unit = access_unit(&[0, 0, 0, 1, 0x41, 0x9a, 0x02]).unwrap();
        assert!(!unit.keyframe);
        assert_eq!(unit.parameter_sets, None);
        assert_eq!(access_unit(&[1, 2, 3]), Err(H264Error::Empty));
        let bad_sps = [&[0, 0, 0, 1, 0x67, 0x42][..], &[0, 0, 0, 1][..], PPS].concat();
        assert!(matches!(access_unit(&bad_sps), Err(H264Error::BadSps(_))));
    }
}
