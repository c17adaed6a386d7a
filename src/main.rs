//! The `lambdesk` binary: the desktop app with no arguments, the command line otherwise.

#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

use clap::Parser;

fn main() {
    #[cfg(feature = "gui")]
    lambdesk::app::mark_process_start();
    let cli = lambdesk::cli::Cli::parse();
    let cli_workspace = cli.workspace;
    let code = match cli.command {
        Some(command) => match lambdesk::cli::run(command, cli_workspace) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                2
            }
        },
        None => run_app(cli_workspace, cli.smoke_test),
    };
    std::process::exit(code);
}

#[cfg(feature = "gui")]
fn run_app(workspace: Option<std::path::PathBuf>, smoke: Option<std::path::PathBuf>) -> i32 {
    match lambdesk::app::run_with(workspace, smoke) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

#[cfg(not(feature = "gui"))]
fn run_app(_workspace: Option<std::path::PathBuf>, _smoke: Option<std::path::PathBuf>) -> i32 {
    eprintln!(
        "this build has no desktop app (built without the `gui` feature); see `lambdesk --help`"
    );
    2
}
