//! Fuzz the bundle index validation and the statement parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = airlock::bundle::CheckedIndex::parse(data);
    let _ = airlock::statement::Statement::parse(data, "fuzz");
});
