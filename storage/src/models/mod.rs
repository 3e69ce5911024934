//! Domain types, one file per resource. They are what the database rows decode into and,
//! where the API shows them, what it serialises.

mod audit;
mod command;
mod delivery;
mod device;
mod event;
mod link;
mod notification;
mod pairing;
mod preferences;
mod recording;
mod relay;
mod session;
mod stream;
mod user;
mod webhook;

pub use audit::*;
pub use command::*;
pub use delivery::*;
pub use device::*;
pub use event::*;
pub use link::*;
pub use notification::*;
pub use pairing::*;
pub use preferences::*;
pub use recording::*;
pub use relay::*;
pub use session::*;
pub use stream::*;
pub use user::*;
pub use webhook::*;
