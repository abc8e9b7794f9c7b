// Package audit keeps an append-only, hash-chained audit log in a bbolt
// bucket, written inside the caller's transaction so that an operation and
// its audit entry commit together or not at all.
//
// # Overview
//
// Each [Entry] is stored under its seq (u64be, from the bucket's
// NextSequence) as a version byte, the SHA-256 of the previous entry's
// stored bytes, and a canonical body (see [Encode]). An entry's hash covers
// all three, so changing, removing or reordering any entry breaks every
// link after it; [Verify] walks the chain and names the first bad seq in a
// [*ChainError]. Removing entries from the end is caught by comparing the
// last seq with the bucket's sequence.
//
// Subjects are keyed HMACs ([SubjectHMAC]), never plaintext numbers or
// bodies. [Receipt] is a signed, offline-checkable statement of one
// erasure, tied to the chain by its seq and hash.
//
// # Caveats
//
// The keyed HMAC protects against a reader of the store file (or a backup)
// who does not hold the key: they cannot test whether a given number is in
// the log, which a plain hash would allow, since phone numbers have so
// little entropy that every candidate can be hashed. It does not protect
// against anyone who holds the key: they can test candidate numbers one by
// one. A key kept inside the same file (the default when no key is given)
// therefore protects nothing against whoever has the file; pass a key kept
// elsewhere. Subjects are pseudonymous, not anonymous.
//
// The chain proves the log was not edited without the edit showing, not
// that it was never rewritten wholesale by someone holding the file: keep
// the head hash (or receipts) somewhere else to anchor it.
package audit
