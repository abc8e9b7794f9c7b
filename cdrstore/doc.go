// Package cdrstore keeps call detail records (CDRs) in one bbolt file, with
// the indexes that let them be found by transaction ID, by phone number and
// by conversation, and forgotten again.
//
// # Overview
//
// A [Store] holds any number of workspaces (tenants), each a nested bucket
// with its records, indexes, audit log and auxiliary buckets, so that one
// workspace's queries cannot reach another's records. Records are keyed by
// started_at·id: CDRs arrive nearly in time order, so ingest appends at the
// right edge of the tree and a retention sweep cuts a prefix.
//
// All reads and writes run inside a [Tx], handed out by [Store.View] and
// [Store.Update]. [Tx.Put] and [Tx.Delete] maintain every index from the
// difference between the old and the new record, so after a commit no index
// can disagree with the records; [Store.Check] verifies that.
//
// Range queries ([Tx.ByNumber], [Tx.ByTime], [Tx.ByConversation]) return
// iter.Seq2[Record, error], are bounded by a [Query] (time range, limit)
// and resume from an opaque cursor ([Record.Cursor]).
//
// Every write path ([Tx.Put], [Store.Put], [Store.PutBatch],
// [Store.PutGrouped]) hands each record to the [WriteHook] installed with
// [Store.SetWriteHook], with the [Tombstone] values it matches (erasures
// that covered it), and stores what the hook decides; cdrstore keeps the
// tombstones and finds matches by keyed HMAC without knowing what they
// mean. A store that holds tombstones refuses writes while no hook is
// installed ([ErrNoWriteHook]). [Tx.ByNumber] also finds records that
// lost the number to a redaction while they kept content (the subject
// index, by keyed HMAC).
//
// The on-disk format is described byte by byte in docs/format.md.
//
// # Caveats
//
// bbolt is copy-on-write: the old bytes of a rewritten or deleted record
// stay in the file's free pages until they are reused. Code that must
// prove erasure has to remove them: [Store.Scrub] zeroes the free pages in
// place, [Store.Compact] copies the live data to a new file.
//
// A Tx is not safe for concurrent use; a Store is. Only one write
// transaction runs at a time, and one that wrote nothing is not committed:
// the file changes only when its data does.
//
// A damaged page makes bbolt panic; every Store method returns it as an
// error matching [ErrCorrupt] instead. A panic while committing halts the
// store's writes ([ErrHalted]) until it is reopened; reads go on.
//
// No error of this package holds a phone number, a message body or a
// transcript: numbers in keys are masked.
package cdrstore
