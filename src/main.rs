//! The agent's entry point: parse the command, read the configuration, wire
//! the threads (HTTP workers, the platform thread, the signal handler), wait
//! for a stop signal, and shut down within the grace period.

use std::process::ExitCode;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use workspace_agent::card::{Capabilities, Cards};
use workspace_agent::config::Config;
use workspace_agent::health::Readiness;
use workspace_agent::metrics::{Metrics, RegState};
use workspace_agent::platform::heartbeat::Load;
use workspace_agent::platform::register::PlatformLoop;
use workspace_agent::platform::snapshot::Snapshot;
use workspace_agent::platform::{PlatformClient, TokenStore};
use workspace_agent::protocol::v03;
use workspace_agent::server::{HttpServer, ServerParts};
use workspace_agent::service::{Service, ServiceConfig};
use workspace_agent::shutdown::Stop;
use workspace_agent::signals::{self, Event};
use workspace_agent::{backend, children, cli, logging, memory, panics, reload};

// The musl builds (`make static`, `make static-arm64`) bring their own
// allocator: musl's malloc serialises a thread per connection on one lock.
// glibc builds keep glibc's malloc. See src/memory.rs and BENCHMARKS.md.
#[cfg(all(target_env = "musl", feature = "mimalloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(all(
    target_env = "musl",
    feature = "tikv-jemallocator",
    not(feature = "mimalloc")
))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    signals::block();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !matches!(args.first().map(String::as_str), None | Some("run")) {
        signals::unblock();
    }
    let code = match cli::dispatch(&args) {
        Some(code) => code,
        None => run(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// How often freed memory is handed back to the OS while idle.
const TRIM_EVERY: Duration = Duration::from_secs(10);

fn run() -> i32 {
    children::protect_from_children();
    children::become_subreaper();
    memory::tune_allocator();
    logging::init();
    panics::install_hook();
    let stop = Stop::new();
    let events = match signals::spawn(stop.clone()) {
        Ok(rx) => rx,
        Err(e) => {
            eprintln!("error: cannot start the signal thread: {e}");
            return 1;
        }
    };
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    logging::configure(cfg.ops.json_logs, cfg.ops.access_log);
    let started = Instant::now();
    let session_id = workspace_agent::ids::new_id();
    let listener = match HttpServer::bind((cfg.bind_addr, cfg.port).into()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };

    let metrics = Arc::new(Metrics::with_timeout(cfg.task_timeout));
    let service = Arc::new(Service::new(
        backend::build(&cfg.backend),
        ServiceConfig::from_config(&cfg),
        Arc::clone(&metrics),
    ));
    let cards = Cards::build(
        &cfg,
        Capabilities {
            streaming: true,
            push_notifications: false,
        },
    );
    let registration_card = Arc::new(RwLock::new(cards.registration.clone()));
    let server = match HttpServer::start(
        listener,
        ServerParts {
            cards,
            service: Arc::clone(&service),
            readiness: Readiness::new(cfg.backend.clone(), cfg.register, Arc::clone(&metrics)),
            metrics: Arc::clone(&metrics),
            stop: stop.clone(),
            auth_token: cfg.auth_token.clone(),
            metrics_auth: cfg.ops.metrics_auth,
            workers: cfg.workers,
            limits: cfg.limits.clone(),
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    log::info!(
        "workspace-agent {} starting: {}",
        env!("CARGO_PKG_VERSION"),
        cfg.summary()
    );
    log::info!(
        "serving the agent card at http://{}{} and A2A JSON-RPC on / and /a2a",
        server.local_addr,
        workspace_agent::card::CARD_PATH
    );

    let mut platform_client = None;
    let platform = if cfg.register {
        let tokens = Arc::new(TokenStore::load(&cfg.configs_dir));
        let client = Arc::new(PlatformClient::new(
            &cfg.platform_url,
            tokens,
            Arc::clone(&cfg.tls),
        ));
        platform_client = Some(Arc::clone(&client));
        let load = {
            let (service, state) = (Arc::clone(&service), Arc::clone(&server.state));
            Box::new(move || Load {
                active_tasks: service.active_tasks(),
                current_task: service
                    .store
                    .live_tasks()
                    .into_iter()
                    .next()
                    .map(|t| t.2)
                    .unwrap_or_default(),
                open_connections: state.open_connections(),
                backend: service.backend_name(),
            })
        };
        let looped = PlatformLoop {
            client,
            workspace_id: cfg.workspace_id.clone(),
            agent_url: cfg.agent_url.clone(),
            card: Arc::clone(&registration_card),
            interval: cfg.heartbeat_interval,
            metrics: Arc::clone(&metrics),
            stop: stop.clone(),
            load,
            started,
        }
        .spawn();
        match looped {
            Ok(h) => Some(h),
            Err(e) => {
                log::error!("cannot start the platform thread: {e}; serving without registering");
                None
            }
        }
    } else {
        log::info!("REGISTER=false: not contacting the platform");
        metrics.set_registration(RegState::Disabled);
        None
    };

    // The main thread idles until a stop signal, reloading the card on
    // SIGHUP and handing memory freed after a burst back to the OS, so RSS
    // falls again when load ends.
    memory::shed_unused_code();
    loop {
        match events.recv_timeout(TRIM_EVERY) {
            Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Event::Reload) => reload::card(
                &server.state,
                &registration_card,
                platform_client.clone(),
                &cfg.workspace_id,
            ),
            Err(RecvTimeoutError::Timeout) => memory::trim(),
        }
    }
    let stop_began = Instant::now();
    let deadline = stop_began + cfg.shutdown_grace;
    let running = service.active_tasks();
    log::info!(
        "stop signal received: heartbeats stopped, no new connections; {running} task(s) in flight get up to {} s",
        cfg.shutdown_grace.as_secs()
    );
    server.stop_accepting();
    if !service.wait_idle(deadline) {
        let n = service.store.cancel_all();
        log::warn!("grace period over: canceling {n} unfinished task(s)");
        // every backend answers a cancel within a second (see backend::watchdog)
        service.wait_idle(Instant::now() + Duration::from_secs(1));
    }
    // Workers finish the answers they are writing (streams end with the
    // tasks); a worker stuck on a dead client does not hold up the exit.
    let stuck = server.join(Instant::now().max(deadline) + Duration::from_millis(500));
    if stuck > 0 {
        log::warn!("{stuck} worker(s) still busy with slow clients; exiting without them");
    }
    if let Some(h) = platform {
        // The platform thread wakes on the stop flag; it may be inside an
        // HTTP call, which has its own timeout. Don't wait past the grace.
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let live = service.store.live_tasks();
    let snap = Snapshot {
        workspace_id: &cfg.workspace_id,
        session_id: &session_id,
        uptime: started.elapsed(),
        active_tasks: service.active_tasks(),
        current_task: live.first().map(|t| t.2.as_str()).unwrap_or(""),
        unfinished: live
            .iter()
            .map(|(id, s, _)| (id.clone(), v03::state_str(*s)))
            .collect(),
    };
    if cfg.register || cfg.configs_dir.is_dir() {
        match snap.write(&cfg.configs_dir) {
            Ok(()) => log::info!(
                "snapshot written to {}",
                cfg.configs_dir.join(".agent_snapshot.json").display()
            ),
            Err(e) => log::warn!("{e}"),
        }
    }
    log::info!("stopped cleanly in {} ms", stop_began.elapsed().as_millis());
    0
}
