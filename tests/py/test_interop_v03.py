"""A2A 0.3 against the real binary, driven by the official Python client of
that generation (a2a-sdk 0.3.x, installed in its own venv): message/send,
message/stream, tasks/get, tasks/cancel, tasks/resubscribe."""
import uuid

import httpx
from a2a.client import A2ACardResolver, A2AClient
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    MessageSendConfiguration,
    MessageSendParams,
    Part,
    Role,
    SendMessageRequest,
    SendStreamingMessageRequest,
    TaskIdParams,
    TaskQueryParams,
    TaskResubscriptionRequest,
    TextPart,
)

from conftest import run


def msg(text):
    return Message(message_id=str(uuid.uuid4()), role=Role.user, parts=[Part(root=TextPart(text=text))])


async def client(url, http):
    card = await A2ACardResolver(http, url).get_agent_card()
    return A2AClient(http, agent_card=card)


def rid():
    return str(uuid.uuid4())


def test_card_validates_with_the_0_3_model(agent):
    async def go():
        async with httpx.AsyncClient() as http:
            return await A2ACardResolver(http, agent.url).get_agent_card()

    card = run(go())
    assert card.preferred_transport == "JSONRPC"
    assert card.capabilities.streaming is True
    assert card.skills[0].id


def test_send_get_and_cancel_errors(agent):
    async def go():
        async with httpx.AsyncClient() as http:
            c = await client(agent.url, http)
            r = await c.send_message(SendMessageRequest(id=rid(), params=MessageSendParams(message=msg("hello 0.3"))))
            task = r.root.result
            g = await c.get_task(GetTaskRequest(id=rid(), params=TaskQueryParams(id=task.id, history_length=1)))
            cancel = await c.cancel_task(CancelTaskRequest(id=rid(), params=TaskIdParams(id=task.id)))
            missing = await c.get_task(GetTaskRequest(id=rid(), params=TaskQueryParams(id="nope")))
            return task, g.root.result, cancel.root, missing.root

    task, got, cancel, missing = run(go())
    assert task.status.state.value == "completed"
    assert task.artifacts[0].parts[0].root.text == "hello 0.3"
    assert len(got.history) == 1
    assert cancel.error.code == -32002
    assert missing.error.code == -32001


def test_stream_and_resubscribe(slow_agent):
    async def go():
        async with httpx.AsyncClient(timeout=30) as http:
            c = await client(slow_agent.url, http)
            events = []
            async for e in c.send_message_streaming(
                SendStreamingMessageRequest(id=rid(), params=MessageSendParams(message=msg("one two three")))
            ):
                events.append(e.root.result)
            # a non-blocking send, then re-attach to it
            r = await c.send_message(SendMessageRequest(id=rid(), params=MessageSendParams(
                message=msg("x y z"), configuration=MessageSendConfiguration(blocking=False))))
            tid = r.root.result.id
            again = []
            async for e in c.resubscribe(TaskResubscriptionRequest(id=rid(), params=TaskIdParams(id=tid))):
                again.append(e.root.result)
            return events, again

    events, again = run(go())
    assert events[0].kind == "task"
    assert events[-1].kind == "status-update" and events[-1].final is True
    assert events[-1].status.state.value == "completed"
    text = "".join(p.root.text for e in events if e.kind == "artifact-update" for p in e.artifact.parts)
    assert text == "one two three"
    assert again[0].kind == "task"
    assert again[-1].final is True


def test_cancel_running_task(slow_agent):
    async def go():
        async with httpx.AsyncClient(timeout=30) as http:
            c = await client(slow_agent.url, http)
            r = await c.send_message(SendMessageRequest(id=rid(), params=MessageSendParams(
                message=msg("cancel me please"), configuration=MessageSendConfiguration(blocking=False))))
            t = r.root.result
            assert t.status.state.value in ("submitted", "working")
            c2 = await c.cancel_task(CancelTaskRequest(id=rid(), params=TaskIdParams(id=t.id)))
            return c2.root.result

    assert run(go()).status.state.value == "canceled"
