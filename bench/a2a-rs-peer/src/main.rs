//! Echo agent on the official Rust A2A SDK, for `make bench`: the same card
//! route as workspace-agent and the same echo (a completed Task whose
//! artifact holds the user's text), through the SDK's own JSON-RPC router,
//! default request handler and in-memory task store.
//!
//! Usage: a2a-rs-peer PORT (binds 127.0.0.1; exits on SIGTERM or Ctrl-C).

use std::sync::Arc;

use a2a::*;
use a2a_server::*;
use axum::serve::ListenerExt;
use futures::stream::{self, BoxStream};

struct Echo;

fn status(ctx: &ExecutorContext, state: TaskState) -> StreamResponse {
    StreamResponse::StatusUpdate(TaskStatusUpdateEvent {
        task_id: ctx.task_id.clone(),
        context_id: ctx.context_id.clone(),
        status: TaskStatus {
            state,
            message: None,
            timestamp: Some(chrono::Utc::now()),
        },
        metadata: None,
    })
}

impl AgentExecutor for Echo {
    /// The same events as workspace-agent's echo: the task, working, the
    /// artifact, completed.
    fn execute(
        &self,
        ctx: ExecutorContext,
    ) -> BoxStream<'static, Result<StreamResponse, A2AError>> {
        let text = ctx
            .message
            .as_ref()
            .and_then(Message::text)
            .unwrap_or_default();
        let task = StreamResponse::Task(Task {
            id: ctx.task_id.clone(),
            context_id: ctx.context_id.clone(),
            status: TaskStatus {
                state: TaskState::Submitted,
                message: None,
                timestamp: Some(chrono::Utc::now()),
            },
            artifacts: None,
            history: ctx.message.clone().map(|m| vec![m]),
            metadata: None,
        });
        let working = status(&ctx, TaskState::Working);
        let artifact = StreamResponse::ArtifactUpdate(TaskArtifactUpdateEvent {
            task_id: ctx.task_id.clone(),
            context_id: ctx.context_id.clone(),
            artifact: Artifact {
                artifact_id: new_artifact_id(),
                name: Some("response".into()),
                description: None,
                parts: vec![Part::text(text)],
                metadata: None,
                extensions: None,
            },
            append: None,
            last_chunk: Some(true),
            metadata: None,
        });
        let done = status(&ctx, TaskState::Completed);
        Box::pin(stream::iter([task, working, artifact, done].map(Ok)))
    }

    fn cancel(&self, ctx: ExecutorContext) -> BoxStream<'static, Result<StreamResponse, A2AError>> {
        Box::pin(stream::iter([Ok(status(&ctx, TaskState::Canceled))]))
    }
}

fn card(url: &str) -> AgentCard {
    AgentCard {
        name: "a2a-rs-echo".into(),
        description: "Echo agent on the official Rust A2A SDK".into(),
        version: "1.0.0".into(),
        supported_interfaces: vec![AgentInterface::new(url, TRANSPORT_PROTOCOL_JSONRPC)],
        capabilities: AgentCapabilities {
            streaming: Some(true),
            push_notifications: Some(false),
            extensions: None,
            extended_agent_card: None,
        },
        default_input_modes: vec!["text/plain".into()],
        default_output_modes: vec!["text/plain".into()],
        skills: vec![AgentSkill {
            id: "echo".into(),
            name: "Echo".into(),
            description: "Echoes".into(),
            tags: vec!["echo".into()],
            examples: Some(vec!["hi".into()]),
            input_modes: None,
            output_modes: None,
            security_requirements: None,
        }],
        provider: None,
        documentation_url: None,
        icon_url: None,
        security_schemes: None,
        security_requirements: None,
        signatures: None,
    }
}

async fn terminated() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "9000".into())
        .parse()?;
    let addr = format!("127.0.0.1:{port}");
    let handler = Arc::new(DefaultRequestHandler::new(Echo, InMemoryTaskStore::new()));
    let producer = Arc::new(StaticAgentCard::new(card(&format!("http://{addr}/"))));
    let app = axum::Router::new()
        .merge(a2a_server::jsonrpc::jsonrpc_router(handler))
        .merge(a2a_server::agent_card::agent_card_router(producer));
    // TCP_NODELAY, as workspace-agent sets it: without it a stream's small
    // events wait ~40 ms on Nagle and the client's delayed ACK, which would
    // measure the socket option, not the SDK.
    let listener = tokio::net::TcpListener::bind(&addr).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated())
        .await?;
    Ok(())
}
