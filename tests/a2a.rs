//! A2A over raw HTTP: every error code, both generations' shapes, and the
//! behaviours conformance suites check. (The official clients are in
//! tests/py.)

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn post(a: &Agent, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    let (s, _, raw) = http(a.port, "POST", "/", headers, body).unwrap();
    (s, serde_json::from_slice(&raw).unwrap_or(Value::Null))
}

const JSON_CT: (&str, &str) = ("Content-Type", "application/json");

#[test]
fn every_protocol_error_is_http_200_with_the_right_code_and_id() {
    let a = Agent::start(&[]);
    // (headers, body, expected code, expected id)
    type Case<'a> = (&'a [(&'a str, &'a str)], String, i64, Value);
    let cases: Vec<Case> = vec![
        (&[JSON_CT], "{not json".into(), -32700, Value::Null),
        (&[JSON_CT], "[]".into(), -32600, Value::Null),
        (&[JSON_CT], r#"{"jsonrpc":"1.0","id":3,"method":"x"}"#.into(), -32600, json!(3)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":"s","method":"nope/nope"}"#.into(), -32601, json!("s")),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":4,"method":"message/send","params":{}}"#.into(), -32602, json!(4)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":5,"method":"message/send","params":{"message":{"parts":[{"kind":"video"}]}}}"#.into(), -32602, json!(5)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":6,"method":"tasks/get","params":{"id":"missing"}}"#.into(), -32001, json!(6)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":7,"method":"tasks/cancel","params":{"id":"missing"}}"#.into(), -32001, json!(7)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":8,"method":"tasks/pushNotificationConfig/get","params":{"id":"t"}}"#.into(), -32003, json!(8)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":9,"method":"agent/getAuthenticatedExtendedCard"}"#.into(), -32007, json!(9)),
        (&[("Content-Type", "text/plain")], r#"{"jsonrpc":"2.0","id":10,"method":"tasks/get","params":{"id":"x"}}"#.into(), -32005, Value::Null),
        (&[JSON_CT, ("A2A-Version", "99.0")], r#"{"jsonrpc":"2.0","id":11,"method":"GetTask","params":{"id":"x"}}"#.into(), -32009, json!(11)),
        (&[JSON_CT], "\u{0}\u{ff}garbage".into(), -32700, Value::Null),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":12,"method":"tasks/get","params":{"id":5}}"#.into(), -32602, json!(12)),
        (&[JSON_CT], r#"{"jsonrpc":"2.0","id":13,"method":"tasks/get","params":{"id":"x","historyLength":"lots"}}"#.into(), -32602, json!(13)),
    ];
    for (headers, body, code, id) in cases {
        let (status, v) = post(&a, headers, body.as_bytes());
        assert_eq!(status, 200, "{body}");
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
        assert_eq!(v["id"], id, "{body}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // -32602 names the field
    let (_, v) = post(&a, &[JSON_CT], br#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"parts":[{"kind":"text","text":5}]}}}"#);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("params.message.parts[0].text"),
        "{v}"
    );
    // an empty A2A-Version header means 0.3
    let (_, v) = post(
        &a,
        &[JSON_CT, ("A2A-Version", "")],
        json!({"jsonrpc":"2.0","id":1,"method":"message/send","params":send_params("x")})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(v["result"]["kind"], "task");
}

#[test]
fn v10_errors_and_results_use_the_1_0_shapes() {
    let a = Agent::start(&[]);
    let h = [JSON_CT, ("A2A-Version", "1.0")];
    let (_, v) = post(
        &a,
        &h,
        br#"{"jsonrpc":"2.0","id":1,"method":"CancelTask","params":{"id":"missing"}}"#,
    );
    assert_eq!(v["error"]["code"], -32001);
    assert_eq!(v["error"]["data"][0]["reason"], "TASK_NOT_FOUND");
    assert_eq!(v["error"]["data"][0]["domain"], "a2a-protocol.org");
    let send = json!({"jsonrpc":"2.0","id":2,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"hi"}]}}});
    let (_, v) = post(&a, &h, send.to_string().as_bytes());
    let t = &v["result"]["task"];
    assert_eq!(t["status"]["state"], "TASK_STATE_COMPLETED");
    assert_eq!(t["artifacts"][0]["parts"][0], json!({"text": "hi"}));
    assert!(t["status"]["timestamp"].as_str().unwrap().ends_with('Z'));
    let id = t["id"].as_str().unwrap();
    // snake_case params are accepted
    let (_, v) = post(
        &a,
        &h,
        json!({"jsonrpc":"2.0","id":3,"method":"GetTask","params":{"id":id,"history_length":0}})
            .to_string()
            .as_bytes(),
    );
    assert!(v["result"].get("history").is_none(), "{v}");
    // a message to a terminal task is an error; so is a wrong contextId
    let follow = json!({"jsonrpc":"2.0","id":4,"method":"SendMessage","params":{"message":{"role":"ROLE_USER","taskId":id,"parts":[{"text":"more"}]}}});
    let (_, v) = post(&a, &h, follow.to_string().as_bytes());
    assert_eq!(v["error"]["code"], -32004, "{v}");
    // ListTasks validation
    for bad in [
        json!({"pageSize": 5000}),
        json!({"pageToken": "zz"}),
        json!({"status": "TASK_STATE_NOPE"}),
        json!({"statusTimestampAfter": "noon"}),
    ] {
        let (_, v) = post(
            &a,
            &h,
            json!({"jsonrpc":"2.0","id":5,"method":"ListTasks","params":bad})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(v["error"]["code"], -32602, "{bad}: {v}");
    }
    let (_, v) = post(&a, &h, br#"{"jsonrpc":"2.0","id":6,"method":"ListTasks","params":{"status":"TASK_STATE_COMPLETED"}}"#);
    assert!(!v["result"]["tasks"].as_array().unwrap().is_empty());
    assert_eq!(v["result"]["nextPageToken"], "");
}

#[test]
fn platform_text_part_shapes_and_canvas_fields() {
    let a = Agent::start(&[]);
    for part in [
        json!({"kind":"text","text":"k"}),
        json!({"type":"text","text":"k"}),
        json!({"text":"k"}),
    ] {
        let r = a.rpc(
            "message/send",
            json!({"message": {"role":"user","messageId":"m","parts":[part]}}),
            &[],
        );
        // the canvas reads result.artifacts[].parts[] with kind == "text"
        assert_eq!(
            r["result"]["artifacts"][0]["parts"][0],
            json!({"kind":"text","text":"k"}),
            "{r}"
        );
    }
    // /a2a and / behave the same
    let r = rpc(a.port, "/a2a", "message/send", send_params("via a2a"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed");
}

/// Issue 13, item 1: each of these parts used to send the two generations'
/// part decoders back and forth until the stack overflowed and the process
/// aborted.
#[test]
fn parts_mixing_the_generations_are_invalid_params_and_the_agent_lives_on() {
    let a = Agent::start(&[]);
    for part in [
        json!({"kind": null, "data": {}}),
        json!({"type": null, "url": "x"}),
        json!({"type": null, "data": {}}),
        json!({"kind": null, "url": "x"}),
        json!({"kind": "text", "text": null}),
    ] {
        for (method, h) in [
            ("message/send", &[][..]),
            ("SendMessage", &[("A2A-Version", "1.0")][..]),
        ] {
            let r = a.rpc(method, json!({"message": {"parts": [part]}}), h);
            assert_eq!(r["error"]["code"], -32602, "{method} {part}: {r}");
            let msg = r["error"]["message"].as_str().unwrap();
            assert!(msg.starts_with("params.message.parts[0]"), "{msg}");
        }
    }
    let r = a.rpc("message/send", send_params("still here"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
}

#[test]
fn non_blocking_send_is_visibly_running_and_cancelable() {
    let a = Agent::start(&[("ECHO_DELAY_MS", "2000")]);
    let r = a.rpc(
        "message/send",
        json!({"message": {"parts":[{"text":"a b"}]}, "configuration": {"blocking": false}}),
        &[],
    );
    let state = r["result"]["status"]["state"].as_str().unwrap().to_string();
    assert!(state == "submitted" || state == "working", "{r}");
    let id = r["result"]["id"].as_str().unwrap();
    let c = a.rpc("tasks/cancel", json!({"id": id}), &[]);
    assert_eq!(c["result"]["status"]["state"], "canceled");
    let again = a.rpc("tasks/cancel", json!({"id": id}), &[]);
    assert_eq!(again["error"]["code"], -32002);
    let g = a.rpc("tasks/get", json!({"id": id}), &[]);
    assert_eq!(g["result"]["status"]["state"], "canceled");
}

#[test]
fn streaming_is_chunked_sse_with_a_final_event() {
    let a = Agent::start(&[("ECHO_DELAY_MS", "300")]);
    let body =
        json!({"jsonrpc":"2.0","id":"st","method":"message/stream","params":send_params("x y z")})
            .to_string();
    let (status, headers, raw) = http(a.port, "POST", "/", &[JSON_CT], body.as_bytes()).unwrap();
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(header(&headers, "transfer-encoding"), Some("chunked"));
    let events = sse_events(&raw);
    assert_eq!(events[0]["result"]["kind"], "task");
    assert!(events
        .iter()
        .all(|e| e["id"] == "st" && e["jsonrpc"] == "2.0"));
    let last = events.last().unwrap();
    assert_eq!(last["result"]["kind"], "status-update");
    assert_eq!(last["result"]["final"], true);
    assert_eq!(last["result"]["status"]["state"], "completed");
    // resubscribing to a finished task is refused clearly
    let id = events[0]["result"]["id"].as_str().unwrap();
    let r = a.rpc("tasks/resubscribe", json!({"id": id}), &[]);
    assert_eq!(r["error"]["code"], -32004);
}

#[test]
fn a_client_disconnecting_mid_stream_frees_its_connection() {
    let streams = 4;
    let a = Agent::start(&[("ECHO_DELAY_MS", "2000")]);
    // start streams, then walk away from them
    for _ in 0..streams {
        let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
        let body = json!({"jsonrpc":"2.0","id":1,"method":"message/stream","params":send_params("w1 w2 w3 w4 w5 w6 w7 w8")}).to_string();
        write!(s, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        let mut buf = [0u8; 256];
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read(&mut buf);
        drop(s);
    }
    // the agent notices at the next event and lets the connections go;
    // then new streams and card requests, side by side, are answered
    assert!(
        wait_connections_closed(a.port),
        "the abandoned streams' connections are closed"
    );
    let port = a.port;
    let handles: Vec<_> = (0..streams)
        .map(|i| {
            std::thread::spawn(move || {
                if i < streams - 2 {
                    let body = json!({"jsonrpc":"2.0","id":i,"method":"message/stream","params":send_params("again")}).to_string();
                    let (s, _, raw) = http(port, "POST", "/", &[JSON_CT], body.as_bytes()).unwrap();
                    (s, sse_events(&raw).last().map(|e| e["result"]["status"]["state"].clone()))
                } else {
                    let (s, _, _) = http(port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
                    (s, Some(json!("completed")))
                }
            })
        })
        .collect();
    for h in handles {
        let (s, last) = h.join().unwrap();
        assert_eq!(s, 200);
        assert_eq!(last, Some(json!("completed")));
    }
}

#[test]
fn inbound_auth_guards_a2a_but_not_the_card() {
    let a = Agent::start(&[("A2A_AUTH_TOKEN", "letmein")]);
    let (s, _, body) = http(a.port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(s, 200);
    let card: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(card["security"], json!([{"bearer": []}]));
    let req = json!({"jsonrpc":"2.0","id":1,"method":"message/send","params":send_params("x")})
        .to_string();
    let (s, h, _) = http(a.port, "POST", "/", &[JSON_CT], req.as_bytes()).unwrap();
    assert_eq!(s, 401);
    assert_eq!(header(&h, "www-authenticate"), Some("Bearer"));
    assert_eq!(
        http(
            a.port,
            "POST",
            "/",
            &[JSON_CT, ("Authorization", "Bearer wrong")],
            req.as_bytes()
        )
        .unwrap()
        .0,
        401
    );
    let r = a.rpc(
        "message/send",
        send_params("x"),
        &[("Authorization", "Bearer letmein")],
    );
    assert_eq!(r["result"]["status"]["state"], "completed");
}

#[test]
fn a_finished_stream_leaves_the_connection_open_for_the_next_request() {
    let a = Agent::start(&[]);
    let body =
        json!({"jsonrpc":"2.0","id":1,"method":"message/stream","params":send_params("one two")})
            .to_string();
    let stream = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let card = "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // both on one connection: the card is answered only if the stream's
    // end left the connection open
    let out = raw(
        a.port,
        format!("{stream}{card}").as_bytes(),
        Duration::from_secs(10),
    );
    let (first, rest) = out.split_once("0\r\n\r\n").expect("the stream's body ends");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    assert!(first.contains("\"final\":true"), "{first}");
    assert!(
        rest.starts_with("HTTP/1.1 200"),
        "the next request is answered: {rest:?}"
    );
    // a 1.0 client cannot take chunks: unframed, then the connection ends
    let out = raw(
        a.port,
        format!("{}{card}", stream.replacen("HTTP/1.1", "HTTP/1.0", 1)).as_bytes(),
        Duration::from_secs(10),
    );
    assert!(
        out.to_ascii_lowercase().contains("connection: close"),
        "{out}"
    );
    assert!(
        !out.to_ascii_lowercase().contains("transfer-encoding"),
        "{out}"
    );
    assert_eq!(out.matches("HTTP/1.").count(), 1, "{out}");
}
