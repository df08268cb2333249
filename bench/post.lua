-- wrk script: POST one A2A 0.3 message/send per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","messageId":"bench-1","parts":[{"kind":"text","text":"hello from the benchmark"}]}}}'
