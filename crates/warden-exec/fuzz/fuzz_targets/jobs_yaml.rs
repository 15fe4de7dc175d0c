//! Fuzz target: `jobsfile::parse` must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The loader takes text; invalid UTF-8 is refused before parsing by `load`.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(errors) = warden_exec::jobsfile::parse(text, "fuzz.yaml") {
            // Rendering every error must not panic either.
            let _ = errors.to_string();
        }
    }
});
