// Package redaction holds the operations with legal meaning over a
// cdrstore.Store: redacting one transaction by ID (the Vonage Redact API),
// erasing a contact's content (the NDPR/GDPR right to erasure), deleting
// voice legs, auto-redaction by policy, retention sweeps, opt-outs, legal
// holds and erasure receipts.
//
// # Overview
//
// Each operation of a [Redactor] is one bbolt write transaction: the
// records, their indexes, the outbox of external blobs to delete and the
// audit entry commit together or not at all. Operations are idempotent (a
// repeat changes no record and reports 0 affected), take a context that
// rolls them back when cancelled, and return a result value. A request ID
// passed with [WithRequest] makes a replay return the first result and
// apply nothing.
//
// [New] installs on the store the write hook through which erasures reach
// records written after them: each erasure leaves a tombstone, and a CDR
// it covers that arrives later (late, or delivered again) is stored
// erased, or not at all; a record past the last sweep's cutoff is kept
// out, and one past an auto-redaction policy's window is stored redacted.
// Legal holds win.
//
// # Caveats
//
// bbolt keeps the old bytes of rewritten records in free pages; erasure is
// only physical after cdrstore's Scrub.
//
// Erasure requests (RedactByID, EraseContact, DeleteRecord,
// DeleteConversation) always write an audit entry and return a receipt,
// even when they changed no record: the entry is the proof that the
// request was honoured.
package redaction
