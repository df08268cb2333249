//! Waiting politely on an HTTP loop thread.
//!
//! Requests are answered on the HTTP server's loop threads (see
//! `server`), which serve every connection in turn. Before code on such a
//! thread waits for something slow (a backend, a task slot, a stream's next
//! event, a readiness probe), it calls `about_to_wait`: another thread
//! takes the loop over, so the wait holds up only this request. Socket
//! reads and writes that would wait do this by themselves (the tiny_http
//! patch). Off the loop it costs a thread-local read.

pub(crate) fn about_to_wait() {
    tiny_http::will_block();
}
