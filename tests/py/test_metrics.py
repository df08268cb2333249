"""/metrics parsed with a real Prometheus parser (prometheus_client): names
and types follow the Prometheus conventions (counters end in _total, units in
names, no precomputed rates, the standard process_* metrics), series exist
only for methods that were called, and the counters move with traffic. No
secret ever appears in it."""
import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import Agent


def scrape(agent, headers=None):
    r = httpx.get(agent.url + "/metrics", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    return families, r.text


def value(families, name, **labels):
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def test_metrics_parse_and_move():
    a = Agent(A2A_AUTH_TOKEN="very-secret-inbound-token", AGENT_BACKEND="command",
              AGENT_COMMAND="sh -c 'read x; [ \"$x\" = fail ] && exit 3; echo ok'")
    try:
        fams, _ = scrape(a)
        assert value(fams, "workspace_agent_build_info") == 1
        before = value(fams, "workspace_agent_a2a_requests_total", method="send", outcome="ok") or 0
        auth = {"Authorization": "Bearer very-secret-inbound-token"}
        for text in ("hello", "fail"):
            httpx.post(a.url, headers=auth, json={"jsonrpc": "2.0", "id": 1, "method": "message/send",
                       "params": {"message": {"role": "user", "parts": [{"kind": "text", "text": text}]}}})
        httpx.post(a.url, headers=auth, json={"jsonrpc": "2.0", "id": 2, "method": "nope"})
        httpx.get(a.url + "/.well-known/agent-card.json")
        fams, text = scrape(a)
        assert value(fams, "workspace_agent_a2a_requests_total", method="send", outcome="ok") == before + 2
        assert value(fams, "workspace_agent_a2a_requests_total", method="invalid", outcome="client_error") >= 1
        assert value(fams, "workspace_agent_a2a_requests_total", method="send", outcome="agent_error") == 0
        assert value(fams, "workspace_agent_backend_errors_total") == 1
        assert value(fams, "workspace_agent_http_requests_total", route="card", status="2xx") >= 1
        assert value(fams, "workspace_agent_a2a_request_duration_seconds_count", method="send") >= 2
        assert value(fams, "workspace_agent_registration_state", state="disabled") == 1
        assert value(fams, "workspace_agent_active_tasks") == 0
        assert "very-secret-inbound-token" not in text
    finally:
        a.stop()


# (family name as the parser reports it, type); the parser strips _total
# from counter families and reports the samples with it
EXPECTED = {
    "workspace_agent_build_info": "gauge",
    "workspace_agent_http_requests": "counter",
    "workspace_agent_a2a_requests": "counter",
    "workspace_agent_a2a_request_duration_seconds": "histogram",
    "workspace_agent_backend_errors": "counter",
    "workspace_agent_busy_refusals": "counter",
    "workspace_agent_heartbeats_ok": "counter",
    "workspace_agent_heartbeats_failed": "counter",
    "workspace_agent_registration_attempts": "counter",
    "workspace_agent_tasks_evicted": "counter",
    "workspace_agent_tasks_expired": "counter",
    "workspace_agent_registration_state": "gauge",
    "workspace_agent_token_persisted": "gauge",
    "workspace_agent_active_tasks": "gauge",
    "workspace_agent_tasks_stored": "gauge",
    "workspace_agent_tasks_live": "gauge",
    "workspace_agent_task_store_bytes": "gauge",
    "workspace_agent_task_archive_bytes": "gauge",
    "workspace_agent_open_connections": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}


def test_names_and_types_follow_the_conventions():
    a = Agent(AGENT_TIMEOUT_SECS="45")
    try:
        httpx.post(a.url, json={"jsonrpc": "2.0", "id": 1, "method": "message/send",
                   "params": {"message": {"role": "user", "parts": [{"kind": "text", "text": "hi"}]}}})
        fams, text = scrape(a)
        for name, kind in EXPECTED.items():
            assert name in fams, name
            assert fams[name].type == kind, (name, fams[name].type)
        for fam in fams.values():
            for s in fam.samples:
                if fam.type == "counter":
                    assert s.name.endswith(("_total", "_created")), s.name
                assert "rate" not in s.name, s.name
        assert "workspace_agent_error_rate" not in text
        assert value(fams, "process_resident_memory_bytes") > 1 << 20
        assert value(fams, "process_open_fds") >= 3
        assert value(fams, "process_start_time_seconds") > 1.6e9
        # the largest finite bucket is the backend timeout
        les = [s.labels["le"] for s in fams["workspace_agent_a2a_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["method"] == "send"]
        assert [float(x) for x in les[-2:]] == [45.0, float("inf")], les
        # only methods that were called have series
        methods = {s.labels["method"] for s in fams["workspace_agent_a2a_requests"].samples}
        assert methods == {"send"}, methods
    finally:
        a.stop()


def test_metrics_behind_the_token():
    a = Agent(A2A_AUTH_TOKEN="metrics-secret-token-123", METRICS_AUTH="true")
    try:
        assert httpx.get(a.url + "/metrics").status_code == 401
        fams, _ = scrape(a, {"Authorization": "Bearer metrics-secret-token-123"})
        assert value(fams, "workspace_agent_build_info") == 1
    finally:
        a.stop()
