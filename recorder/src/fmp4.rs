//! Fragmented MP4 (ISO/IEC 14496-12, the CMAF shape browsers and phones play) written as a
//! stream: an init segment (`ftyp` + `moov`), then one `moof` + `mdat` per fragment, then an
//! `mfra` index so players can seek and tell the duration without reading every fragment. Each
//! piece is complete when it is returned, so a clip can be uploaded as it is written and is
//! never held whole in memory. The boxes are encoded by `mp4-atom`; this module decides what
//! goes in them.

use mp4_atom::{
    Audio, Avc1, Avcc, Codec, Dinf, Dops, Dref, DrefEntry, Encode, FourCC, FragmentInfo, Ftyp,
    Hdlr, Mdhd, Mdia, Mfhd, Mfra, Mfro, Minf, Moof, Moov, Mvex, Mvhd, Opus, Smhd, Stbl, Stsd, Tfdt,
    Tfhd, Tfra, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url, Visual, Vmhd,
};

use bytes::Bytes;

use crate::h264::ParameterSets;

pub const VIDEO_TRACK: u32 = 1;
pub const AUDIO_TRACK: u32 = 2;
/// RTP's clocks, kept as they are: no rescaling, no rounding.
pub const VIDEO_TIMESCALE: u32 = 90_000;
pub const AUDIO_TIMESCALE: u32 = 48_000;

/// Sample flags (14496-12 §8.8.3.1): a sync sample depends on nothing; any other sample
/// depends on others and is not a sync sample.
const SYNC_SAMPLE: u32 = 0x0200_0000;
const NON_SYNC_SAMPLE: u32 = 0x0101_0000;

/// One frame (video) or packet (audio) in its track's timescale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub decode_time: u64,
    pub duration: u32,
    pub keyframe: bool,
    pub data: Bytes,
}

/// The Opus track, as WebRTC sends it: 48 kHz, the channel count the SDP says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusTrack {
    pub channels: u8,
}

#[derive(Debug, thiserror::Error)]
#[error("MP4 encoding failed: {0}")]
pub struct Mp4Error(#[from] mp4_atom::Error);

/// Writes one clip. Byte offsets are counted from the start of the init segment.
#[derive(Debug)]
pub struct Fmp4Writer {
    audio: bool,
    sequence: u32,
    written: u64,
    /// Where each fragment starting with a video keyframe begins, for the `mfra` index.
    sync_points: Vec<FragmentInfo>,
}

impl Fmp4Writer {
    /// Starts a clip; returns the writer and the init segment (the first bytes of the file).
    pub fn start(
        video: &ParameterSets,
        audio: Option<OpusTrack>,
    ) -> Result<(Fmp4Writer, Vec<u8>), Mp4Error> {
        let mut out = Vec::with_capacity(1024);
        Ftyp {
            major_brand: FourCC::new(b"isom"),
            minor_version: 0x200,
            compatible_brands: ["isom", "iso6", "avc1", "mp41", "cmfc"]
                .iter()
                .map(|b| FourCC::new(b.as_bytes().try_into().expect("four bytes")))
                .collect(),
        }
        .encode(&mut out)?;
        let mut trak = vec![video_trak(video)];
        let mut trex = vec![track_defaults(VIDEO_TRACK)];
        if let Some(opus) = audio {
            trak.push(audio_trak(opus));
            trex.push(track_defaults(AUDIO_TRACK));
        }
        Moov {
            mvhd: Mvhd {
                timescale: 1000,
                rate: 1.into(),
                volume: 1.into(),
                next_track_id: trak.len() as u32 + 1,
                ..Default::default()
            },
            mvex: Some(Mvex { mehd: None, trex }),
            trak,
            ..Default::default()
        }
        .encode(&mut out)?;
        let writer = Fmp4Writer {
            audio: audio.is_some(),
            sequence: 0,
            written: out.len() as u64,
            sync_points: Vec::new(),
        };
        Ok((writer, out))
    }

    /// Bytes handed out so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// One fragment (`moof` + `mdat`) holding `video` then `audio` samples, each in decode
    /// order. Audio is ignored when the clip was started without an audio track.
    pub fn fragment(&mut self, video: &[Sample], audio: &[Sample]) -> Result<Vec<u8>, Mp4Error> {
        let audio = if self.audio { audio } else { &[] };
        self.sequence += 1;
        let video_bytes: usize = video.iter().map(|s| s.data.len()).sum();
        let audio_bytes: usize = audio.iter().map(|s| s.data.len()).sum();
        // The data offsets depend on the moof's own size, which they do not change: encode
        // once to measure, then again with the real offsets.
        let mut moof = self.moof(video, audio, 0, 0);
        let mut measured = Vec::new();
        moof.encode(&mut measured)?;
        let mdat_header = 8;
        let video_offset = (measured.len() + mdat_header) as i32;
        let audio_offset = video_offset + video_bytes as i32;
        moof = self.moof(video, audio, video_offset, audio_offset);
        let mut out = Vec::with_capacity(measured.len() + mdat_header + video_bytes + audio_bytes);
        moof.encode(&mut out)?;
        debug_assert_eq!(out.len(), measured.len());
        out.extend_from_slice(&((mdat_header + video_bytes + audio_bytes) as u32).to_be_bytes());
        out.extend_from_slice(b"mdat");
        for sample in video.iter().chain(audio) {
            out.extend_from_slice(&sample.data);
        }
        if let Some(first) = video.first().filter(|s| s.keyframe) {
            self.sync_points.push(FragmentInfo {
                time: first.decode_time,
                moof_offset: self.written,
                traf_number: 1,
                trun_number: 1,
                sample_delta: 1,
            });
        }
        self.written += out.len() as u64;
        Ok(out)
    }

    /// The closing `mfra` index (the file is playable without it; it makes seeking and the
    /// duration cheap for players).
    pub fn finish(self) -> Result<Vec<u8>, Mp4Error> {
        let mut mfra = Mfra {
            tfra: vec![Tfra {
                track_id: VIDEO_TRACK,
                entries: self.sync_points,
            }],
            mfro: Mfro { parent_size: 0 },
        };
        let mut measured = Vec::new();
        mfra.encode(&mut measured)?;
        mfra.mfro.parent_size = measured.len() as u32;
        let mut out = Vec::with_capacity(measured.len());
        mfra.encode(&mut out)?;
        Ok(out)
    }

    fn moof(&self, video: &[Sample], audio: &[Sample], video_at: i32, audio_at: i32) -> Moof {
        let mut traf = vec![track_fragment(VIDEO_TRACK, video, video_at)];
        if !audio.is_empty() {
            traf.push(track_fragment(AUDIO_TRACK, audio, audio_at));
        }
        Moof {
            mfhd: Mfhd {
                sequence_number: self.sequence,
            },
            traf,
        }
    }
}

fn track_fragment(track_id: u32, samples: &[Sample], data_offset: i32) -> Traf {
    Traf {
        tfhd: Tfhd {
            track_id,
            default_base_is_moof: true,
            ..Default::default()
        },
        tfdt: Some(Tfdt {
            base_media_decode_time: samples.first().map_or(0, |s| s.decode_time),
        }),
        trun: vec![Trun {
            data_offset: Some(data_offset),
            samples: TrunSamples::Explicit(
                samples
                    .iter()
                    .map(|s| TrunEntry {
                        duration: Some(s.duration),
                        size: Some(s.data.len() as u32),
                        flags: Some(if s.keyframe {
                            SYNC_SAMPLE
                        } else {
                            NON_SYNC_SAMPLE
                        }),
                        cts: None,
                    })
                    .collect(),
            ),
        }],
        ..Default::default()
    }
}

fn track_defaults(track_id: u32) -> Trex {
    Trex {
        track_id,
        default_sample_description_index: 1,
        default_sample_duration: 0,
        default_sample_size: 0,
        default_sample_flags: 0,
    }
}

/// A track with no samples of its own (they are all in fragments).
fn trak(
    track_id: u32,
    timescale: u32,
    handler: &[u8; 4],
    name: &str,
    codec: Codec,
    tkhd: Tkhd,
    media_header: (Option<Vmhd>, Option<Smhd>),
) -> Trak {
    Trak {
        tkhd: Tkhd {
            track_id,
            enabled: true,
            in_movie: true,
            ..tkhd
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(handler),
                name: name.into(),
            },
            minf: Minf {
                vmhd: media_header.0,
                smhd: media_header.1,
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![DrefEntry::Url(Url {
                            location: String::new(),
                        })],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![codec],
                    },
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    }
}

fn video_trak(params: &ParameterSets) -> Trak {
    let avc1 = Avc1 {
        visual: Visual {
            data_reference_index: 1,
            width: params.width,
            height: params.height,
            ..Default::default()
        },
        avcc: Avcc {
            configuration_version: 1,
            avc_profile_indication: params.profile,
            profile_compatibility: params.compatibility,
            avc_level_indication: params.level,
            length_size: 4,
            sequence_parameter_sets: vec![params.sps.clone()],
            picture_parameter_sets: vec![params.pps.clone()],
            ext: None,
        },
        ..Default::default()
    };
    let tkhd = Tkhd {
        width: params.width.into(),
        height: params.height.into(),
        ..Default::default()
    };
    trak(
        VIDEO_TRACK,
        VIDEO_TIMESCALE,
        b"vide",
        "SecureCam video",
        Codec::Avc1(avc1),
        tkhd,
        (Some(Vmhd::default()), None),
    )
}

fn audio_trak(opus: OpusTrack) -> Trak {
    let codec = Codec::Opus(Opus {
        audio: Audio {
            data_reference_index: 1,
            channel_count: opus.channels.into(),
            sample_size: 16,
            sample_rate: (AUDIO_TIMESCALE as u16).into(),
        },
        dops: Dops {
            output_channel_count: opus.channels,
            pre_skip: 0,
            input_sample_rate: AUDIO_TIMESCALE,
            output_gain: 0,
            channel_mapping: None,
        },
        btrt: None,
    });
    let tkhd = Tkhd {
        alternate_group: 1,
        volume: 1.into(),
        ..Default::default()
    };
    trak(
        AUDIO_TRACK,
        AUDIO_TIMESCALE,
        b"soun",
        "SecureCam audio",
        codec,
        tkhd,
        (None, Some(Smhd::default())),
    )
}
