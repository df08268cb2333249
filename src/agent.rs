//! The agent as one value: `Agent::start` wires every long-lived thread
//! (the HTTP server, the platform thread), `Running::wait` idles the calling
//! thread until a stop, and `Running::shutdown` stops them in the order
//! ARCHITECTURE.md gives. The signal thread is the caller's (`main`): it
//! exists before the configuration is read, and it raises the stop flag
//! handed in here.

use crate::card::{Capabilities, Cards, SharedCards, CARD_PATH};
use crate::config::Config;
use crate::health::Readiness;
use crate::metrics::{Metrics, RegState};
use crate::platform::heartbeat::Load;
use crate::platform::register::PlatformLoop;
use crate::platform::snapshot::{Snapshot, Unfinished};
use crate::platform::{PlatformClient, TokenStore};
use crate::server::{HttpServer, ServerParts};
use crate::service::{Service, ServiceConfig};
use crate::shutdown::Stop;
use crate::signals::Event;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often freed memory is handed back to the OS while idle.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// How often the main thread looks for the end of a burst (connections
/// closing), after which freed memory is handed back at once rather than
/// at the next `TRIM_EVERY`.
const BURST_CHECK: Duration = Duration::from_secs(1);

/// After the grace, every backend answers a cancel within a second (see
/// `backend::watchdog`).
const CANCEL_WAIT: Duration = Duration::from_secs(1);

/// How long past the grace a connection may take to finish writing an answer.
const ANSWER_EXTRA: Duration = Duration::from_millis(500);

/// Why the agent could not start.
#[derive(Debug)]
pub enum StartError {
    /// the port could not be bound (the message says what to change)
    Listen(String),
    /// the HTTP server could not start
    Server(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Listen(e) | StartError::Server(e) => f.write_str(e),
        }
    }
}

pub struct Agent;

/// What the process does once, before any thread starts: programs it runs
/// may not read it, it reaps orphans, the allocator is tuned, and logging
/// is set up.
pub fn prepare_process() {
    crate::children::protect_from_children();
    crate::children::become_subreaper();
    crate::memory::tune_allocator();
    crate::logging::init();
}

/// The platform side of a running agent: the client (also used by a card
/// reload) and the register-then-heartbeat thread.
struct Platform {
    client: Arc<PlatformClient>,
    thread: Option<JoinHandle<()>>,
}

/// A started agent. Dropping it without `shutdown` leaves its threads
/// running until the process exits.
pub struct Running {
    cfg: Config,
    stop: Stop,
    started: Instant,
    session_id: String,
    service: Arc<Service>,
    server: HttpServer,
    cards: SharedCards,
    platform: Option<Platform>,
}

/// What a shutdown did, for the caller's exit status and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// unfinished tasks canceled once the grace was over
    pub canceled: usize,
    /// requests still being written to slow clients at the deadline (left behind)
    pub stuck_answers: usize,
    /// where the snapshot went, if one was written
    pub snapshot: Option<PathBuf>,
    pub took: Duration,
}

impl Agent {
    /// Binds the port, then starts the HTTP server and (with `REGISTER`)
    /// the platform thread. `stop` is the flag the caller's signal thread
    /// raises; every thread started here wakes on it.
    pub fn start(cfg: Config, stop: Stop) -> Result<Running, StartError> {
        let started = Instant::now();
        crate::logging::configure(cfg.ops.json_logs, cfg.ops.access_log);
        let listener =
            HttpServer::bind((cfg.bind_addr, cfg.port).into()).map_err(StartError::Listen)?;
        let metrics = Arc::new(Metrics::with_timeout(cfg.task_timeout));
        let service = Arc::new(Service::new(
            crate::backend::build(&cfg.backend),
            ServiceConfig::from_config(&cfg),
            Arc::clone(&metrics),
        ));
        let cards = SharedCards::new(Cards::build(&cfg, Capabilities::AGENT));
        let parts = ServerParts {
            cards: cards.clone(),
            service: Arc::clone(&service),
            readiness: Readiness::new(cfg.backend.clone(), cfg.register, Arc::clone(&metrics)),
            metrics: Arc::clone(&metrics),
            stop: stop.clone(),
            auth_token: cfg.auth_token.clone(),
            metrics_auth: cfg.ops.metrics_auth,
            limits: cfg.limits.clone(),
        };
        let server = HttpServer::start(listener, parts).map_err(StartError::Server)?;
        log::info!(
            "workspace-agent {} starting: {}",
            env!("CARGO_PKG_VERSION"),
            cfg.summary()
        );
        log::info!(
            "serving the agent card at http://{}{CARD_PATH} and A2A JSON-RPC on / and /a2a",
            server.local_addr
        );
        let mut running = Running {
            cfg,
            stop,
            started,
            session_id: crate::ids::new_id(),
            service,
            server,
            cards,
            platform: None,
        };
        running.platform = running.start_platform(&metrics);
        Ok(running)
    }
}

impl Running {
    /// How long in-flight runs get once a stop arrives (`SHUTDOWN_GRACE_SECS`).
    pub fn grace(&self) -> Duration {
        self.cfg.shutdown_grace
    }

    /// The platform thread, registering then heartbeating, unless
    /// `REGISTER=false`. A thread that cannot start leaves the agent
    /// serving without registering.
    fn start_platform(&self, metrics: &Arc<Metrics>) -> Option<Platform> {
        let cfg = &self.cfg;
        if !cfg.register {
            log::info!("REGISTER=false: not contacting the platform");
            metrics.set_registration(RegState::Disabled);
            return None;
        }
        let tokens = Arc::new(TokenStore::load(&cfg.configs_dir));
        let client = Arc::new(PlatformClient::new(
            &cfg.platform_url,
            tokens,
            Arc::clone(&cfg.tls),
        ));
        let cards = self.cards.clone();
        let looped = PlatformLoop {
            client: Arc::clone(&client),
            workspace_id: cfg.workspace_id.clone(),
            agent_url: cfg.agent_url.clone(),
            card: Box::new(move || cards.get().registration.clone()),
            interval: cfg.heartbeat_interval,
            metrics: Arc::clone(metrics),
            stop: self.stop.clone(),
            load: self.load_sampler(),
            started: self.started,
        }
        .spawn();
        let thread = looped
            .map_err(|e| {
                log::error!("cannot start the platform thread: {e}; serving without registering")
            })
            .ok()?;
        Some(Platform {
            client,
            thread: Some(thread),
        })
    }

    /// The heartbeat's figures, sampled at each beat.
    fn load_sampler(&self) -> Box<dyn Fn() -> Load + Send> {
        let service = Arc::clone(&self.service);
        let connections = self.server.connection_counter();
        Box::new(move || Load {
            active_tasks: service.active_tasks(),
            current_task: service.current_task(),
            open_connections: connections(),
            backend: service.backend_name(),
        })
    }

    /// Idles the calling thread until a stop: reloads the card on SIGHUP
    /// and hands memory freed after a burst back to the OS, so RSS falls
    /// again when load ends.
    pub fn wait(&self, events: &Receiver<Event>) {
        crate::memory::shed_unused_code();
        let mut last_trim = Instant::now();
        let mut open = self.server.open_connections();
        // checks left that trim: connections closing now free their
        // threads' memory up to a second later (the pool's idle exit)
        let mut settling = 0u8;
        loop {
            match events.recv_timeout(BURST_CHECK) {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Event::Reload) => self.reload_card(),
                Err(RecvTimeoutError::Timeout) => {
                    let now_open = self.server.open_connections();
                    if now_open < open {
                        settling = 3;
                    }
                    open = now_open;
                    if settling > 0 || last_trim.elapsed() >= TRIM_EVERY {
                        settling = settling.saturating_sub(1);
                        crate::memory::trim();
                        last_trim = Instant::now();
                    }
                }
            }
        }
    }

    /// Re-reads the card configuration, swaps the card and tells the platform.
    fn reload_card(&self) {
        let client = self.platform.as_ref().map(|p| &p.client);
        crate::reload::card(&self.cards, client, &self.cfg.workspace_id);
    }

    /// Stops the agent: stop flag up (the platform thread stops
    /// heartbeating) → the listener closes → in-flight runs get until
    /// `deadline` → every live task is canceled → answers in progress are waited for →
    /// the snapshot is written. Idle, this takes milliseconds.
    pub fn shutdown(mut self, deadline: Instant) -> Report {
        let began = Instant::now();
        if !self.stop.is_set() {
            self.stop.trigger();
        }
        log::info!(
            "stop signal received: heartbeats stopped, no new connections; \
             {} task(s) in flight get up to {} s",
            self.service.active_tasks(),
            deadline
                .saturating_duration_since(began)
                .as_millis()
                .div_ceil(1000)
        );
        self.server.stop_accepting();
        let canceled = self.cancel_after(deadline);
        // streams on tasks waiting for input have no run to end them
        self.service.close_streams();
        // Connections finish the answers they are writing (streams end with the
        // tasks); an answer stuck on a dead client does not hold up the exit.
        let stuck_answers = self
            .server
            .join(Instant::now().max(deadline) + ANSWER_EXTRA);
        if stuck_answers > 0 {
            log::warn!(
                "{stuck_answers} answer(s) still being written to slow clients; exiting without them"
            );
        }
        self.wait_platform(deadline);
        let snapshot = self.write_snapshot();
        log::info!("stopped cleanly in {} ms", began.elapsed().as_millis());
        Report {
            canceled,
            stuck_answers,
            snapshot,
            took: began.elapsed(),
        }
    }

    /// Lets in-flight runs finish until `deadline`, then cancels every live
    /// task (their clients get a final `canceled`); returns how many.
    fn cancel_after(&self, deadline: Instant) -> usize {
        if self.service.wait_idle(deadline) {
            return 0;
        }
        let n = self.service.cancel_all();
        log::warn!("grace period over: canceling {n} unfinished task(s)");
        self.service.wait_idle(Instant::now() + CANCEL_WAIT);
        n
    }

    /// The platform thread wakes on the stop flag; it may be inside an HTTP
    /// call, which has its own timeout. Not waited for past `deadline`.
    fn wait_platform(&mut self, deadline: Instant) {
        let Some(thread) = self.platform.as_mut().and_then(|p| p.thread.take()) else {
            return;
        };
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }

    /// The shutdown snapshot, when there is a place for it (a registered
    /// agent, or an existing `CONFIGS_DIR`).
    fn write_snapshot(&self) -> Option<PathBuf> {
        let cfg = &self.cfg;
        if !(cfg.register || cfg.configs_dir.is_dir()) {
            return None;
        }
        let live = self.service.live_tasks();
        let snap = Snapshot {
            workspace_id: &cfg.workspace_id,
            session_id: &self.session_id,
            uptime: self.started.elapsed(),
            active_tasks: self.service.active_tasks(),
            current_task: live.first().map_or("", |t| t.preview.as_str()),
            unfinished: live
                .iter()
                .map(|t| Unfinished {
                    id: t.id.clone(),
                    state: t.state.name(),
                })
                .collect(),
        };
        match snap.write(&cfg.configs_dir) {
            Ok(path) => {
                log::info!("snapshot written to {}", path.display());
                Some(path)
            }
            Err(e) => {
                log::warn!("{e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};

    /// An echo agent on a free loopback port, not registering, with its
    /// snapshot going to a fresh directory.
    fn start(echo_delay_ms: u64) -> (Running, PathBuf) {
        let dir = std::env::temp_dir().join(format!("wa-agent-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let env: std::collections::HashMap<String, String> = [
            ("WORKSPACE_ID", "agent-test"),
            ("REGISTER", "false"),
            ("BIND_ADDR", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("CONFIGS_DIR", dir.to_str().unwrap()),
            ("ECHO_DELAY_MS", &echo_delay_ms.to_string()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = Config::load(&env).unwrap();
        (Agent::start(cfg, Stop::new()).unwrap(), dir)
    }

    /// A non-blocking send; returns the answer's text.
    fn send_non_blocking(addr: SocketAddr) -> String {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{
            "message":{"role":"user","messageId":"m","parts":[{"text":"a b c d e f g h"}]},
            "configuration":{"blocking":false}}}"#;
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn idle_shutdown_is_quick_and_writes_the_snapshot() {
        let (running, dir) = start(0);
        let report = running.shutdown(Instant::now() + Duration::from_secs(5));
        assert_eq!(report.canceled, 0);
        assert_eq!(report.stuck_answers, 0);
        assert!(report.took < Duration::from_secs(2), "{report:?}");
        let snap = report.snapshot.expect("CONFIGS_DIR exists: a snapshot");
        assert_eq!(snap, dir.join(crate::platform::snapshot::SNAPSHOT_FILE));
        let text = std::fs::read_to_string(&snap).unwrap();
        assert!(text.contains("\"workspace_id\": \"agent-test\""), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_run_that_outlives_the_grace_is_canceled_then_its_answer_written() {
        // eight words spread over 20 s: still running when the grace ends
        let (running, dir) = start(20_000);
        let answer = send_non_blocking(running.server.local_addr);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(running.service.live_tasks().len(), 1);
        let report = running.shutdown(Instant::now() + Duration::from_millis(200));
        assert_eq!(report.canceled, 1, "{report:?}");
        assert_eq!(report.stuck_answers, 0, "{report:?}");
        assert!(report.took < Duration::from_secs(3), "{report:?}");
        let text = std::fs::read_to_string(report.snapshot.unwrap()).unwrap();
        assert!(
            text.contains("\"unfinished_tasks\": []"),
            "canceled is finished: {text}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
