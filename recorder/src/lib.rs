//! SecureCam's recorder: writes MP4 clips (event clips with pre-roll, on-demand recordings)
//! to object storage and keeps `recordings` rows. Built in a later issue.
