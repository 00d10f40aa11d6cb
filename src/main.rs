//! The vmamatrix binary: parse the command line, run, map to an exit code.

use clap::Parser;

fn main() {
    vmamatrix::proc::install_signal_handlers();
    let cli = vmamatrix::cli::Cli::parse();
    let code = match vmamatrix::cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmamatrix: error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
