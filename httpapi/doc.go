// Package httpapi serves a Store over HTTP with the wire contracts telecom
// customers already use: the Vonage Redact API (POST
// /v1/redact/transaction, HTTP Basic auth, RFC 7807 problems), the
// contact-erasure endpoint (DELETE /v1/contacts/{e164}, Bearer token,
// error_code bodies), and subject-access reads (GET /v1/records…).
//
// # Overview
//
// Credentials ([AddKey]) belong to one workspace and list the products
// they may redact; every request acts only on its credential's workspace.
// Secrets are stored hashed and compared in constant time. Each key is
// rate limited (golang.org/x/time/rate, 170 requests/s by default).
//
// # Caveats
//
// Access log lines carry the method, the path with any number masked, the
// status, the latency and the key ID: never a number, a body or a query
// string.
package httpapi
