// Package fleet carries erasure requests, legal holds, opt-outs and
// workspace settings to every store of a fleet over a NATS JetStream
// command log, applies each once per store, and proves it with signed
// per-node reports and one signed fleet record.
//
// # Overview
//
// An [Issuer] (operators' side) signs each [Command] with an Ed25519
// issuer key, seals its arguments (numbers, IDs, the request ID) with
// AES-256-GCM under the fleet data key, and publishes it on the stream
// (limits retention, so a node that joins later replays the log). Each
// node runs an [Agent] beside its Store: a durable consumer of its own
// reads the log in stream order, one command at a time, verifies and
// opens the command, applies it through the redaction package under the
// command's request ID (so a redelivery replays the first result and
// changes nothing), writes a report signed with the node's own key, and
// only then acknowledges. When every node that was a member at publish
// time has a final report, whichever process sees it first (a node or a
// waiting issuer) writes the fleet record by compare-and-set and signs
// it.
//
// # Statuses
//
// A node reports done, partial (a legal hold kept records), absent (the
// workspace or record is not on this node), deferred (inside the
// premature-redaction window; retried when it opens), rejected (with a
// reason; the message is terminated, never silently skipped) or
// retrying (a transient error; retried with backoff, keeping order).
//
// # Caveats
//
// The stream must use file storage with sync_interval: always on every
// server: the default lazy sync can lose acknowledged writes on a power
// cut. Every JetStream call carries a deadline ([Config.CallTimeout]).
package fleet
