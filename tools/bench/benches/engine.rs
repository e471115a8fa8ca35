//! Engine cost without syscalls: segments per second through the sans-IO core, receive path and
//! send path measured separately (see tools/bench/src/engine.rs for what each side includes).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use tunstack_bench::engine::Pair;

/// Bytes per measured iteration.
const CHUNK: u64 = 1 << 20;

fn paths(c: &mut Criterion) {
    for mtu in [1500usize, 9000] {
        let segs = CHUNK.div_ceil(mtu as u64 - 52);
        let mut g = c.benchmark_group(format!("engine_mtu{mtu}"));
        g.throughput(Throughput::Elements(segs));
        g.measurement_time(Duration::from_secs(3));
        g.warm_up_time(Duration::from_millis(500));
        g.sample_size(20);
        g.bench_function("recv_path_1MiB", |b| {
            let mut p = Pair::new(mtu);
            b.iter_custom(|iters| (0..iters).map(|_| p.transfer(CHUNK).recv).sum())
        });
        g.bench_function("send_path_1MiB", |b| {
            let mut p = Pair::new(mtu);
            b.iter_custom(|iters| (0..iters).map(|_| p.transfer(CHUNK).send).sum())
        });
        g.finish();
    }
}

criterion_group!(benches, paths);
criterion_main!(benches);
