//! Fuzz the tar inspector (legacy torch archives): any bytes give a verdict.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = airlock::formats::tar::inspect(&mut &data[..], data.len() as u64);
});
