// Package bench runs one CDR workload on cdrvault and on the engines a
// user would pick instead — SQLite (WAL, synchronous FULL and NORMAL),
// bolthold, and plain bbolt with JSON values and hand-written index
// buckets — through one driver interface, so that their figures come from
// the same run. It is a separate module: importers of cdrvault never
// download a peer engine.
package bench
