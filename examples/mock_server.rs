//! Runs `usersync mock-server` before the subcommand is wired into the CLI:
//! `cargo run --example mock_server -- --provider gnoss --listen 127.0.0.1:8080`.

use clap::Parser;
use usersync::commands::mock_server::{run, MockServerArgs};

/// The mock-server flags, alone.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: MockServerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run(Cli::parse().args).await
}
