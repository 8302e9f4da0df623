//! The one integration-test binary: every test drives the real `airlock`
//! binary against real files in a temp folder.

mod util;

mod alloc;
mod architecture;
mod audit;
mod bundle;
mod checkout;
mod database;
mod gap;
mod hf_layouts;
mod import;
mod inputs;
mod interop;
mod interrupt;
mod lifecycle;
mod oci;
mod peers;
mod pieces;
mod reliability;
mod safety;
mod trust;
mod verify;
