fn main() -> std::process::ExitCode {
    clawpair::cli::main()
}
