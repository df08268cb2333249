"""/metrics parsed with a real Prometheus parser (prometheus_client), and the
counters move with traffic. No secret ever appears in it."""
import httpx
from prometheus_client.parser import text_string_to_metric_families

from conftest import Agent


def scrape(agent):
    r = httpx.get(agent.url + "/metrics")
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
        assert value(fams, "workspace_agent_a2a_requests_total", method="invalid", outcome="error") >= 1
        assert value(fams, "workspace_agent_backend_errors_total") == 1
        assert value(fams, "workspace_agent_http_requests_total", route="card", status="2xx") >= 1
        assert value(fams, "workspace_agent_a2a_request_duration_seconds_count", method="send") >= 2
        assert value(fams, "workspace_agent_error_rate") > 0
        assert value(fams, "workspace_agent_registration_state", state="disabled") == 1
        assert value(fams, "workspace_agent_active_tasks") == 0
        assert "very-secret-inbound-token" not in text
    finally:
        a.stop()
