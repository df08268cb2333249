//! A mock Molecule platform as a standalone program, for the container tests
//! (built static and run in a scratch container next to the agent).
//! `mock_platform [ADDR]`, default `0.0.0.0:8080`.

#[path = "../tests/support/mock_platform.rs"]
mod mock;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:8080".into());
    let p = mock::MockPlatform::start_at(addr.as_str());
    eprintln!("mock platform listening on {addr} (port {})", p.port);
    loop {
        std::thread::park();
    }
}
