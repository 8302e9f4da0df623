//! Fuzz the npy parser: any bytes give a verdict, never a panic or a hang.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = airlock::formats::npy::inspect(&mut &data[..], data.len() as u64);
});
