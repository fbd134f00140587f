//! `noriai solve`: dial-a-ride benchmark instances.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct SolveArgs {
    /// The instance file.
    pub instance: PathBuf,
}

pub fn solve(_a: SolveArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
