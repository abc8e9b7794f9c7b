// Package control serves a store's operations to cdradmin over a Unix
// domain socket beside the store file, so an operator can run every
// command against a store that a running service holds (bbolt locks the
// file to one process).
//
// # Overview
//
// An embedding service turns it on with one call, [Start], on the
// Redactor it already has; cdradmin finds the socket at the store's path
// plus ".ctl" ([SocketPath]) and goes through it whenever the file is
// locked. The protocol is HTTP/1.1 with JSON bodies; long results
// (search, export, audit list, backup) stream.
//
// Every operation is written once, in [Local]: the socket's handlers call
// Local's methods, and [Client] has the same methods ([Ops]), so a caller
// renders a result the same way wherever it was computed.
//
// # Errors
//
// An error the service returns reaches the caller as a *[RemoteError]
// with the service's text, and errors.Is and errors.As work on it as they
// do on the local error: it matches the same sentinel, and holds the same
// detail structs (*cdrstore.NoWorkspaceError, *redaction.NotFoundError,
// *redaction.HoldError, *redaction.PrematureRedactionError and the others
// listed in errors.go), with the same fields but a wrapped cause.
//
// # Security
//
//   - The socket is created owner-only (bound under umask 0077, never
//     chmod-ed afterwards) and removed by [Server.Close].
//   - Only the process holding the store's exclusive file lock (a store
//     opened for writing) may start a server, and so replace a stale
//     socket left by a process that died.
//   - Each connection's peer credentials (SO_PEERCRED) are read before
//     anything is read from it: only the socket owner's uid and root are
//     served. Where credentials cannot be read the connection is refused
//     (fail closed). A refused peer is logged and closed unread.
//   - [Dial] checks the server's credentials the same way, so a socket
//     planted by another user never receives a request carrying a number.
//   - The peer's uid and pid become the audit actor of what it runs.
//
// # Streams yield to the service
//
// export, search by number or time, and audit list read a page
// (PageSize entries) per read transaction and send it before the next.
// When the store began transactions during a page other than the
// streams' own (the service serving its traffic), the stream waits
// before its next page, so that it works at most [Options.StreamShare]
// of the time (default [DefaultStreamShare]; a wait is at most a
// second): an operator's export slows down rather than the service's
// requests. On a store that only the streams use, and after a stream's
// last page, nothing waits.
//
// # Caveats
//
// Peer credentials are read on Linux only; elsewhere every connection is
// refused. Binding sets the process umask for an instant (under a lock
// in this package); a file another goroutine creates in that instant is
// created owner-only.
package control
