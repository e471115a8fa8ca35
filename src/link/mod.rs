//! Links between a stack and the world: the impairment emulator and the in-memory simulator link.

pub mod endpoint;
pub mod impair;
pub mod rules;
pub mod sim;

pub use endpoint::{Endpoint, TcpEndpoint};
pub use impair::{Impair, ImpairConfig, ImpairStats};
