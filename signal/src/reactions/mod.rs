//! Adapters for what the media components report: the relay (`relay`) and the recorder
//! (`recorder`), whether they run in this process or reach it over the bus.

pub mod recorder;
pub mod relay;
