//! Fuzz the pickle opcode walk: any bytes give a report or an error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = airlock::formats::pickle::walk(&mut &data[..], data.len() as u64, true);
});
