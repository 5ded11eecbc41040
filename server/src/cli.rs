//! Offline commands (owned by the format engineer; stubs until they land).

pub mod decrypt;
pub mod encrypt;
pub mod inspect;
pub mod keygen;
