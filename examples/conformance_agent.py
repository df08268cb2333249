#!/usr/bin/env python3
"""The in-band scenarios of the A2A conformance kits, as a command backend.

Run it behind the agent with
    AGENT_BACKEND=command AGENT_COMMAND_FORMAT=jsonl \
    AGENT_COMMAND="python3 examples/conformance_agent.py"
It uses only the public jsonl protocol (README, "Backends"): one JSON line
in (taskId, contextId, text, message, history), events out, one per line.
The scenario is chosen by the message's messageId prefix; anything else is
echoed. A follow-up to a task waiting for input completes it.
"""
import base64
import json
import sys
import time


def emit(event):
    print(json.dumps(event), flush=True)


def text(t):
    return {"kind": "text", "text": t}


def status(state, words=None):
    s = {"state": state}
    if words is not None:
        s["message"] = {"parts": [text(words)]}
    emit({"kind": "status-update", "status": s})


def artifact(parts, name=None, append=False, last=True, artifact_id=None):
    a = {"parts": parts}
    if name:
        a["name"] = name
    if artifact_id:
        a["artifactId"] = artifact_id
    emit({"kind": "artifact-update", "artifact": a, "append": append, "lastChunk": last})


def file_part(**where):
    return {"kind": "file", "file": dict(where, name="output.txt", mimeType="text/plain")}


FILE_BYTES = base64.b64encode(b"Generated file content").decode()


def working_text_completed(_):
    status("working")
    artifact([text("Generated text content")], name="result")
    status("completed")


def chunked(_):
    artifact([text("chunk-1 ")], name="result", artifact_id="chunked", last=False)
    artifact([text("chunk-2")], name="result", artifact_id="chunked", append=True, last=True)
    status("completed")


def slow(_):
    status("working")
    time.sleep(4)
    status("completed", "Done after 4 s")


def echo(request):
    artifact([text(request["text"])], name="response")
    status("completed")


# longest prefixes first: "tck-artifact-file-url" before "tck-artifact-file"
SCENARIOS = [
    ("tck-complete-task", lambda r: status("completed", "Hello from TCK")),
    ("tck-artifact-text", lambda r: (artifact([text("Generated text content")], name="result"),
                                     status("completed"))),
    ("tck-artifact-file-url", lambda r: (artifact([file_part(uri="https://example.com/output.txt")],
                                                  name="output.txt"), status("completed"))),
    ("tck-artifact-file", lambda r: (artifact([file_part(bytes=FILE_BYTES)], name="output.txt"),
                                     status("completed"))),
    ("tck-artifact-data", lambda r: (artifact([{"kind": "data", "data": {"key": "value", "count": 42}}],
                                              name="result"), status("completed"))),
    ("tck-message-response", lambda r: emit({"kind": "message", "parts": [text("Direct message response")]})),
    ("tck-input-required", lambda r: status("input-required", "Please provide more input")),
    ("tck-reject-task", lambda r: status("rejected", "Rejected: this agent will not do that")),
    ("tck-stream-artifact-chunked", chunked),
    ("tck-stream-artifact-file", lambda r: (artifact([file_part(bytes=FILE_BYTES)], name="output.txt"),
                                            status("completed"))),
    ("tck-stream-artifact-text", working_text_completed),
    ("tck-stream-ordering-001", working_text_completed),
    ("tck-stream-001", working_text_completed),
    ("tck-stream-003", working_text_completed),
    ("tck-stream-002", lambda r: status("completed", "Stream complete")),
    ("test-resubscribe-message-id", slow),
]


def main():
    request = json.loads(sys.stdin.readline())
    if request["history"]:
        # a follow-up to a task that asked for input: done with it
        status("completed", "Received: " + request["text"])
        return
    message_id = request["message"].get("messageId", "")
    for prefix, scenario in SCENARIOS:
        if message_id.startswith(prefix):
            scenario(request)
            return
    echo(request)


if __name__ == "__main__":
    main()
