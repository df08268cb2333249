"""The conformance agent (examples/conformance_agent.py, a jsonl command
backend) against the official 1.0 client (a2a-sdk 1.x): every in-band
scenario of the conformance kits, with exact states, parts, names, media
types, chunk flags and event order; multi-turn, cancel and subscribe on a
task waiting for input; the strict 1.0 card."""
import asyncio
import uuid

import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from conftest import run
from google.protobuf import json_format

S = TaskState


def msg(prefix, text="hi", **kw):
    return Message(message_id=f"{prefix}-{uuid.uuid4()}", role=Role.ROLE_USER, parts=[Part(text=text)], **kw)


async def send(url, message, streaming=False, **config):
    c = await create_client(url, client_config=ClientConfig(streaming=streaming))
    req = SendMessageRequest(message=message, configuration=SendMessageConfiguration(**config))
    events = [e async for e in c.send_message(req)]
    await c.close()
    return events


def task_of(url, prefix):
    events = run(send(url, msg(prefix)))
    assert len(events) == 1 and events[0].HasField("task"), events
    return events[0].task


def kinds(events):
    out = []
    for e in events:
        kind = e.WhichOneof("payload")
        if kind == "status_update":
            out.append(("status", TaskState.Name(e.status_update.status.state)))
        elif kind == "artifact_update":
            out.append(("artifact", e.artifact_update.append, e.artifact_update.last_chunk))
        else:
            out.append((kind,))
    return out


def test_the_1_0_card_passes_a_strict_parser_and_no_header_keeps_0_3(tck):
    card = httpx.get(tck.url + "/.well-known/agent-card.json", headers={"A2A-Version": "1.0"}).text
    json_format.Parse(card, AgentCard(), ignore_unknown_fields=False)
    old = httpx.get(tck.url + "/.well-known/agent-card.json").json()
    assert old["url"] == tck.url and old["protocolVersion"].startswith("0.3")


def test_complete_task(tck):
    t = task_of(tck.url, "tck-complete-task")
    assert t.status.state == S.TASK_STATE_COMPLETED
    assert t.status.message.parts[0].text == "Hello from TCK"
    assert t.status.message.role == Role.ROLE_AGENT


def test_text_artifact(tck):
    t = task_of(tck.url, "tck-artifact-text")
    assert t.status.state == S.TASK_STATE_COMPLETED
    assert [a.parts[0].text for a in t.artifacts] == ["Generated text content"]


def test_file_artifact_bytes_and_url(tck):
    p = task_of(tck.url, "tck-artifact-file").artifacts[0].parts[0]
    assert p.WhichOneof("content") == "raw" and p.raw == b"Generated file content"
    assert (p.filename, p.media_type) == ("output.txt", "text/plain")
    p = task_of(tck.url, "tck-artifact-file-url").artifacts[0].parts[0]
    assert p.WhichOneof("content") == "url" and p.url == "https://example.com/output.txt"
    assert (p.filename, p.media_type) == ("output.txt", "text/plain")


def test_data_artifact(tck):
    p = task_of(tck.url, "tck-artifact-data").artifacts[0].parts[0]
    assert p.WhichOneof("content") == "data"
    assert json_format.MessageToDict(p.data) == {"key": "value", "count": 42}


def test_direct_message_reply(tck):
    events = run(send(tck.url, msg("tck-message-response")))
    assert [e.WhichOneof("payload") for e in events] == ["message"]
    m = events[0].message
    assert m.role == Role.ROLE_AGENT and m.parts[0].text == "Direct message response"
    assert m.context_id and not m.task_id


def test_input_required_and_rejected(tck):
    t = task_of(tck.url, "tck-input-required")
    assert t.status.state == S.TASK_STATE_INPUT_REQUIRED
    assert t.status.message.parts[0].text == "Please provide more input"
    t = task_of(tck.url, "tck-reject-task")
    assert t.status.state == S.TASK_STATE_REJECTED


@pytest.mark.parametrize("prefix", ["tck-stream-001", "tck-stream-003", "tck-stream-ordering-001",
                                    "tck-stream-artifact-text"])
def test_stream_working_artifact_completed(tck, prefix):
    events = run(send(tck.url, msg(prefix), streaming=True))
    assert kinds(events) == [("task",), ("status", "TASK_STATE_WORKING"), ("artifact", False, True),
                             ("status", "TASK_STATE_COMPLETED")]
    assert events[2].artifact_update.artifact.parts[0].text == "Generated text content"
    assert events[0].task.status.state == S.TASK_STATE_SUBMITTED


def test_stream_completed_only(tck):
    events = run(send(tck.url, msg("tck-stream-002"), streaming=True))
    assert kinds(events) == [("task",), ("status", "TASK_STATE_WORKING"), ("status", "TASK_STATE_COMPLETED")]


def test_stream_file_artifact(tck):
    events = run(send(tck.url, msg("tck-stream-artifact-file"), streaming=True))
    assert kinds(events)[2:] == [("artifact", False, True), ("status", "TASK_STATE_COMPLETED")]
    a = events[2].artifact_update.artifact
    assert a.name == "output.txt"
    p = a.parts[0]
    assert (p.raw, p.filename, p.media_type) == (b"Generated file content", "output.txt", "text/plain")


def test_stream_chunked_artifact(tck):
    events = run(send(tck.url, msg("tck-stream-artifact-chunked"), streaming=True))
    assert kinds(events)[2:] == [("artifact", False, False), ("artifact", True, True),
                                 ("status", "TASK_STATE_COMPLETED")]
    assert [e.artifact_update.artifact.parts[0].text for e in events[2:4]] == ["chunk-1 ", "chunk-2"]
    assert events[2].artifact_update.artifact.artifact_id == events[3].artifact_update.artifact.artifact_id


def test_subscribe_to_a_task_that_finishes_later(tck):
    async def go():
        first = (await send(tck.url, msg("test-resubscribe-message-id"), return_immediately=True))[0].task
        c = await create_client(tck.url, client_config=ClientConfig(streaming=True))
        events = [e async for e in c.subscribe(SubscribeToTaskRequest(id=first.id))]
        await c.close()
        return first, events

    first, events = run(go())
    assert events[0].task.id == first.id
    assert kinds(events)[-1] == ("status", "TASK_STATE_COMPLETED")


def test_multi_turn_history_and_a_finished_task_refuses_more(tck):
    async def go():
        t = (await send(tck.url, msg("tck-input-required")))[0].task
        follow = msg("follow", "the answer", task_id=t.id, context_id=t.context_id)
        done = (await send(tck.url, follow))[0].task
        c = await create_client(tck.url)
        last2 = await c.get_task(GetTaskRequest(id=t.id, history_length=2))
        full = await c.get_task(GetTaskRequest(id=t.id))
        await c.close()
        try:
            await send(tck.url, msg("again", task_id=t.id, context_id=t.context_id))
            refused = None
        except Exception as e:  # noqa: BLE001 - the SDK's error types
            refused = e
        return t, done, last2, full, refused

    t, done, last2, full, refused = run(go())
    assert done.id == t.id and done.status.state == S.TASK_STATE_COMPLETED
    assert done.status.message.parts[0].text == "Received: the answer"
    assert [m.role for m in full.history] == [Role.ROLE_USER, Role.ROLE_AGENT, Role.ROLE_USER, Role.ROLE_AGENT]
    assert [m.parts[0].text for m in last2.history] == ["the answer", "Received: the answer"]
    assert refused is not None, "1.0 refuses a message to a finished task"


def test_cancel_and_subscribe_a_task_waiting_for_input(tck):
    async def go():
        t = (await send(tck.url, msg("tck-input-required")))[0].task
        c = await create_client(tck.url, client_config=ClientConfig(streaming=True))
        sub = [e async for e in _take(c.subscribe(SubscribeToTaskRequest(id=t.id)), 1)]
        plain = await create_client(tck.url)
        canceled = await plain.cancel_task(CancelTaskRequest(id=t.id))
        await c.close()
        await plain.close()
        return t, sub, canceled

    t, sub, canceled = run(go())
    assert sub[0].task.id == t.id and sub[0].task.status.state == S.TASK_STATE_INPUT_REQUIRED
    assert canceled.status.state == S.TASK_STATE_CANCELED


def test_subscriber_of_a_waiting_task_sees_it_continue(tck):
    async def go():
        t = (await send(tck.url, msg("tck-input-required")))[0].task
        c = await create_client(tck.url, client_config=ClientConfig(streaming=True))
        events = []

        async def listen():
            async for e in c.subscribe(SubscribeToTaskRequest(id=t.id)):
                events.append(e)

        listener = asyncio.create_task(listen())
        while not events:
            await asyncio.sleep(0.02)
        await send(tck.url, msg("follow", "more", task_id=t.id, context_id=t.context_id))
        await asyncio.wait_for(listener, 10)
        await c.close()
        return events

    events = run(go())
    assert kinds(events) == [("task",), ("status", "TASK_STATE_WORKING"), ("status", "TASK_STATE_COMPLETED")]


async def _take(agen, n):
    got = 0
    async for e in agen:
        yield e
        got += 1
        if got >= n:
            break
