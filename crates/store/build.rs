//! `sqlx::migrate!` embeds the migration files at compile time; cargo only
//! notices a new file if the build script asks it to watch the directory.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
