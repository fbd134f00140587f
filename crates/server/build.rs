//! Compiles `proto/noriai/v1/*.proto` with a vendored `protoc`, so building
//! needs no system protobuf compiler, and writes the descriptor set that gRPC
//! reflection serves.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files =
        ["common", "riders", "fleet", "booking", "accounts", "driver", "operations", "timetable", "journey"]
            .map(|f| root.join(format!("noriai/v1/{f}.proto")));
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .codec_path("crate::codec::StrictCodec")
        .file_descriptor_set_path(out.join("noriai_descriptor.bin"))
        .compile_with_config(config, &files, std::slice::from_ref(&root))?;
    // The GTFS Realtime specification's own messages (package transit_realtime).
    let realtime = root.join("gtfs-realtime");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.compile_protos(&[realtime.join("gtfs-realtime.proto")], &[realtime])?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
