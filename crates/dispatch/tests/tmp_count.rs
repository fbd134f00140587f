use noriai_dispatch::{Budget, SolveParams, solve};
use std::sync::atomic::Ordering::Relaxed;
#[test]
fn tmp() {
    let path = format!("{}/../../../shared/data/darp/cordeau2006/b8-96.txt", env!("CARGO_MANIFEST_DIR"));
    let inst = noriai_dispatch::formats::cordeau::parse(std::path::Path::new(&path)).unwrap();
    let s = solve(&inst.problem, &SolveParams { budget: Budget::Iterations(3000), seed: 1, ..Default::default() });
    println!("cost {} iters {}", s.cost, s.iterations);
}
