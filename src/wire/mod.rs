//! Packet layouts: parsing what came off the wire (never trusting it) and building what we send.
//! One place builds packets; etherparse does the parsing where it fits.

pub mod checksum;
pub mod icmpv4;
pub mod ipv4;
pub mod pretty;
pub mod udp;
