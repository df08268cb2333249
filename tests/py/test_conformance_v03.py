"""The conformance agent (examples/conformance_agent.py, a jsonl command
backend) against the official 0.3 client (a2a-sdk 0.3.x): every in-band
scenario with exact states, part kinds, names, media types, chunk flags and
event order; multi-turn with historyLength; cancel and resubscribe on a task
waiting for input; a follow-up to a finished task answered with a message."""
import base64
import uuid

import httpx
import pytest
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


def rid():
    return str(uuid.uuid4())


def msg(prefix, text="hi", **kw):
    return Message(message_id=f"{prefix}-{uuid.uuid4()}", role=Role.user,
                   parts=[Part(root=TextPart(text=text))], **kw)


async def with_client(url, f):
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, url).get_agent_card()
        return await f(A2AClient(http, agent_card=card))


def send(url, message, **config):
    async def go(c):
        r = await c.send_message(SendMessageRequest(id=rid(), params=MessageSendParams(
            message=message, configuration=MessageSendConfiguration(**config) if config else None)))
        return r.root
    return run(with_client(url, go))


def stream(url, message):
    async def go(c):
        req = SendStreamingMessageRequest(id=rid(), params=MessageSendParams(message=message))
        return [e.root.result async for e in c.send_message_streaming(req)]
    return run(with_client(url, go))


def result(url, prefix):
    r = send(url, msg(prefix))
    assert not hasattr(r, "error") or r.error is None, r
    return r.result


def kinds(events):
    out = []
    for e in events:
        if e.kind == "status-update":
            out.append(("status", e.status.state.value, e.final))
        elif e.kind == "artifact-update":
            out.append(("artifact", bool(e.append), bool(e.last_chunk)))
        else:
            out.append((e.kind,))
    return out


def test_complete_task(tck):
    t = result(tck.url, "tck-complete-task")
    assert t.kind == "task" and t.status.state.value == "completed"
    assert t.status.message.parts[0].root.text == "Hello from TCK"


def test_text_and_data_artifacts(tck):
    t = result(tck.url, "tck-artifact-text")
    assert t.artifacts[0].parts[0].root.kind == "text"
    assert t.artifacts[0].parts[0].root.text == "Generated text content"
    d = result(tck.url, "tck-artifact-data").artifacts[0].parts[0].root
    assert d.kind == "data" and d.data == {"key": "value", "count": 42}


def test_file_artifacts(tck):
    f = result(tck.url, "tck-artifact-file").artifacts[0].parts[0].root
    assert f.kind == "file" and base64.b64decode(f.file.bytes) == b"Generated file content"
    assert (f.file.name, f.file.mime_type) == ("output.txt", "text/plain")
    u = result(tck.url, "tck-artifact-file-url").artifacts[0].parts[0].root
    assert u.file.uri == "https://example.com/output.txt"
    assert (u.file.name, u.file.mime_type) == ("output.txt", "text/plain")


def test_direct_message_input_required_rejected(tck):
    m = result(tck.url, "tck-message-response")
    assert m.kind == "message" and m.role.value == "agent"
    assert m.parts[0].root.text == "Direct message response"
    t = result(tck.url, "tck-input-required")
    assert t.status.state.value == "input-required"
    assert result(tck.url, "tck-reject-task").status.state.value == "rejected"


@pytest.mark.parametrize("prefix", ["tck-stream-001", "tck-stream-003", "tck-stream-ordering-001",
                                    "tck-stream-artifact-text"])
def test_stream_working_artifact_completed(tck, prefix):
    events = stream(tck.url, msg(prefix))
    assert kinds(events) == [("task",), ("status", "working", False), ("artifact", False, True),
                             ("status", "completed", True)]
    assert events[2].artifact.parts[0].root.text == "Generated text content"


def test_stream_completed_only_file_and_chunks(tck):
    assert kinds(stream(tck.url, msg("tck-stream-002"))) == [
        ("task",), ("status", "working", False), ("status", "completed", True)]
    f = stream(tck.url, msg("tck-stream-artifact-file"))[2].artifact
    assert f.name == "output.txt" and f.parts[0].root.file.mime_type == "text/plain"
    events = stream(tck.url, msg("tck-stream-artifact-chunked"))
    assert kinds(events)[2:] == [("artifact", False, False), ("artifact", True, True), ("status", "completed", True)]
    assert [e.artifact.parts[0].root.text for e in events[2:4]] == ["chunk-1 ", "chunk-2"]


def test_resubscribe_to_a_task_that_finishes_later(tck):
    async def go(c):
        r = await c.send_message(SendMessageRequest(id=rid(), params=MessageSendParams(
            message=msg("test-resubscribe-message-id"), configuration=MessageSendConfiguration(blocking=False))))
        tid = r.root.result.id
        req = TaskResubscriptionRequest(id=rid(), params=TaskIdParams(id=tid))
        return tid, [e.root.result async for e in c.resubscribe(req)]

    tid, events = run(with_client(tck.url, go))
    assert events[0].kind == "task" and events[0].id == tid
    assert kinds(events)[-1] == ("status", "completed", True)


def test_multi_turn_history_length_and_a_follow_up_to_a_finished_task(tck):
    t = result(tck.url, "tck-input-required")
    done = send(tck.url, msg("follow", "the answer", task_id=t.id, context_id=t.context_id)).result
    assert done.id == t.id and done.status.state.value == "completed"

    async def get(c):
        r = await c.get_task(GetTaskRequest(id=rid(), params=TaskQueryParams(id=t.id, history_length=2)))
        return r.root.result

    last2 = run(with_client(tck.url, get))
    assert [m.parts[0].root.text for m in last2.history] == ["the answer", "Received: the answer"]
    # 0.3 wants a success: a message in the task's context; the task stays finished
    late = send(tck.url, msg("late", task_id=t.id, context_id=t.context_id)).result
    assert late.kind == "message" and late.task_id == t.id and late.context_id == t.context_id
    assert run(with_client(tck.url, get)).status.state.value == "completed"


def test_cancel_and_resubscribe_a_task_waiting_for_input(tck):
    t = result(tck.url, "tck-input-required")

    async def go(c):
        req = TaskResubscriptionRequest(id=rid(), params=TaskIdParams(id=t.id))
        sub = c.resubscribe(req)
        first = (await sub.__anext__()).root.result
        canceled = await c.cancel_task(CancelTaskRequest(id=rid(), params=TaskIdParams(id=t.id)))
        rest = [e.root.result async for e in sub]
        return first, canceled.root.result, rest

    first, canceled, rest = run(with_client(tck.url, go))
    assert first.kind == "task" and first.status.state.value == "input-required"
    assert canceled.status.state.value == "canceled"
    assert kinds(rest) == [("status", "canceled", True)]
