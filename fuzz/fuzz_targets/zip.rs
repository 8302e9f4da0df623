//! Fuzz the zip inspector (directory, members, CRCs, embedded pickles).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = airlock::formats::zip::inspect(&mut std::io::Cursor::new(data), data.len() as u64);
});
