"""A2A 1.0 against the real binary, driven by the official Python client
(a2a-sdk 1.x: SendMessage, SendStreamingMessage, GetTask, CancelTask,
SubscribeToTask, ListTasks)."""
import uuid

import httpx
from a2a.client import ClientConfig, create_client
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)

from conftest import run


def msg(text, **kw):
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)], **kw)


async def client_for(url, streaming=False):
    return await create_client(url, client_config=ClientConfig(streaming=streaming))


def test_card_resolves_and_picks_the_1_0_interface(agent):
    async def go():
        c = await client_for(agent.url)
        transport = type(c._transport).__name__
        await c.close()
        return transport

    # the compat (0.3) transport would mean the client did not find 1.0
    assert run(go()) == "JsonRpcTransport"
    card = httpx.get(agent.url + "/.well-known/agent-card.json", headers={"A2A-Version": "1.0"}).json()
    assert {"protocolBinding": "JSONRPC", "protocolVersion": "1.0", "url": agent.url} in card["supportedInterfaces"]
    for field in ("url", "protocolVersion", "preferredTransport"):
        assert field not in card


def test_send_blocking_returns_completed_task_with_artifact(agent):
    async def go():
        c = await client_for(agent.url)
        events = [e async for e in c.send_message(SendMessageRequest(message=msg("hello 1.0")))]
        await c.close()
        return events

    events = run(go())
    assert len(events) == 1
    task = events[0].task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.artifacts[0].parts[0].text == "hello 1.0"
    assert task.history[0].parts[0].text == "hello 1.0"
    assert task.status.timestamp.seconds > 0


def test_get_task_with_history_length(agent):
    async def go():
        c = await client_for(agent.url)
        events = [e async for e in c.send_message(SendMessageRequest(message=msg("remember me")))]
        tid = events[0].task.id
        t = await c.get_task(GetTaskRequest(id=tid, history_length=0))
        full = await c.get_task(GetTaskRequest(id=tid))
        await c.close()
        return t, full

    t, full = run(go())
    assert len(t.history) == 0
    assert full.history[0].parts[0].text == "remember me"


def test_stream_yields_task_then_updates(slow_agent):
    async def go():
        c = await client_for(slow_agent.url, streaming=True)
        events = [e async for e in c.send_message(SendMessageRequest(message=msg("one two three")))]
        await c.close()
        return events

    events = run(go())
    assert events[0].HasField("task")
    kinds = [e.WhichOneof("payload") for e in events]
    assert "artifact_update" in kinds and "status_update" in kinds
    text = "".join(p.text for e in events if e.HasField("artifact_update") for p in e.artifact_update.artifact.parts)
    assert text == "one two three"
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED


def test_cancel_a_running_task_and_errors_for_terminal_and_unknown(slow_agent):
    async def go():
        c = await client_for(slow_agent.url)
        req = SendMessageRequest(message=msg("slow words to cancel"), configuration=SendMessageConfiguration(return_immediately=True))
        events = [e async for e in c.send_message(req)]
        task = events[0].task
        assert task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        canceled = await c.cancel_task(CancelTaskRequest(id=task.id))
        errors = []
        for tid in (task.id, "no-such-task"):
            try:
                await c.cancel_task(CancelTaskRequest(id=tid))
            except Exception as e:  # noqa: BLE001 - the SDK's error types
                errors.append(type(e).__name__)
        await c.close()
        return canceled, errors

    canceled, errors = run(go())
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    assert errors == ["TaskNotCancelableError", "TaskNotFoundError"]


def test_subscribe_to_a_running_task(slow_agent):
    async def go():
        c = await client_for(slow_agent.url, streaming=True)
        req = SendMessageRequest(message=msg("a b c d"), configuration=SendMessageConfiguration(return_immediately=True))
        plain = await client_for(slow_agent.url)
        first = [e async for e in plain.send_message(req)][0].task
        events = [e async for e in c.subscribe(SubscribeToTaskRequest(id=first.id))]
        await c.close()
        await plain.close()
        return first, events

    first, events = run(go())
    assert events[0].task.id == first.id
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED


def test_list_tasks_pages(agent):
    async def go():
        c = await client_for(agent.url)
        ctx = str(uuid.uuid4())
        for i in range(3):
            [e async for e in c.send_message(SendMessageRequest(message=msg(f"n{i}", context_id=ctx)))]
        page1 = await c.list_tasks(ListTasksRequest(context_id=ctx, page_size=2))
        page2 = await c.list_tasks(ListTasksRequest(context_id=ctx, page_size=2, page_token=page1.next_page_token))
        await c.close()
        return page1, page2

    p1, p2 = run(go())
    assert len(p1.tasks) == 2 and p1.next_page_token
    assert len(p2.tasks) == 1 and p2.next_page_token == ""
    assert p1.total_size == 3


def test_raw_1_0_errors_carry_error_info(agent):
    r = httpx.post(agent.url + "/a2a", headers={"A2A-Version": "1.0"},
                   json={"jsonrpc": "2.0", "id": 5, "method": "GetTask", "params": {"id": "nope"}})
    assert r.status_code == 200
    err = r.json()["error"]
    assert err["code"] == -32001
    assert err["data"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert err["data"][0]["reason"] == "TASK_NOT_FOUND"
    r = httpx.post(agent.url, headers={"A2A-Version": "99.0"}, json={"jsonrpc": "2.0", "id": 6, "method": "GetTask", "params": {"id": "x"}})
    assert r.json()["error"]["code"] == -32009
