//! The fuzz targets on stable `cargo test`: the committed seed corpus
//! (`tools/fuzz/corpus-seed/<target>/`) and every saved crash reproducer
//! (`tools/fuzz/regressions/<target>/`) replay through the same target bodies cargo-fuzz runs
//! (`tools/fuzz/src/targets.rs`), then a few hundred seeded random inputs per target. A failure
//! names the file (or seed) to replay.

#[path = "../tools/fuzz/src/harness.rs"]
mod harness;
#[path = "../tools/fuzz/src/model.rs"]
mod model;
#[path = "../tools/fuzz/src/packets.rs"]
mod packets;
#[path = "../tools/fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

use tunstack::rng::Rng;

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

#[test]
fn seed_corpus_and_crash_reproducers_replay_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/fuzz");
    let mut seeds = 0;
    for t in targets::TARGETS {
        let mut n = 0;
        for dir in ["corpus-seed", "regressions"] {
            for f in files(&root.join(dir).join(t)) {
                let data = std::fs::read(&f).expect("read corpus file");
                let r = std::panic::catch_unwind(|| targets::run(t, &data));
                assert!(r.is_ok(), "fuzz target {t} fails on {}", f.display());
                n += 1;
            }
        }
        assert!(n > 0, "no seed corpus for fuzz target {t}");
        seeds += n;
    }
    eprintln!("replayed {seeds} corpus files");
}

#[test]
fn seeded_random_inputs_pass_every_target() {
    let per_target = if cfg!(debug_assertions) { 4 } else { 200 };
    let mut rng = Rng::new(0x00f0_22ed);
    for t in targets::TARGETS {
        for i in 0..per_target {
            let len = rng.below(800) as usize;
            let mut data = vec![0u8; len];
            rng.fill(&mut data);
            let r = std::panic::catch_unwind(|| targets::run(t, &data));
            assert!(
                r.is_ok(),
                "fuzz target {t} fails on random input {i}: {data:02x?}"
            );
        }
    }
}
