//! Domain types, one file per resource. They are what the database rows decode into and,
//! where the API shows them, what it serialises.

mod audit;
mod command;
mod delivery;
mod device;
mod event;
mod link;
mod pairing;
mod recording;
mod relay;
mod session;
mod stream;
mod user;

pub use audit::*;
pub use command::*;
pub use delivery::*;
pub use device::*;
pub use event::*;
pub use link::*;
pub use pairing::*;
pub use recording::*;
pub use relay::*;
pub use session::*;
pub use stream::*;
pub use user::*;
