package cdrstore

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
)

// errDamagedPage is the cause of the *CorruptionError a bbolt panic
// becomes. bbolt's panic text is dropped: it may hold key bytes, and keys
// hold phone numbers.
var errDamagedPage = errors.New("bbolt panicked on a damaged page")

// recoverDamage turns the panic bbolt raises when it reads a damaged page
// (a page whose header is not what its parent says, or whose elements
// point outside the file) into a *CorruptionError in *err. It is the one
// place where the store meets those panics: every exported method that
// reads pages defers it, as
//
//	defer recoverDamage(&err, debug.SetPanicOnFault(true))
//
// which also makes a read of a page outside the mapped file (a wild page
// ID) a panic of that goroutine rather than a fault that kills the
// process; fault is the setting to restore. A panic that did not start in
// bbolt, and is not such a fault, is a programming error and is raised
// again.
func recoverDamage(err *error, fault bool) {
	p := recover()
	debug.SetPanicOnFault(fault)
	if p == nil {
		return
	}
	if !panickedInBbolt() && !isFault(p) {
		panic(p)
	}
	*err = &CorruptionError{Bucket: "(pages)", Err: errDamagedPage}
}

// isFault reports whether p is the panic of a memory fault that
// debug.SetPanicOnFault turned into a panic: within a transaction, a read
// of the mapped file outside its pages (a key or value whose offsets a
// damaged page garbled), wherever the code that read it.
func isFault(p any) bool {
	f, ok := p.(interface {
		runtime.Error
		Addr() uintptr
	})
	return ok && f != nil
}

// panickedInBbolt reports whether the panic being recovered was raised in
// bbolt's code (directly, or by the runtime on its behalf: an index out of
// range, a fault). It must be called by the function that recovers,
// while the panicking frames are still on the stack.
func panickedInBbolt() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case !panicking:
			panicking = f.Function == "runtime.gopanic"
		case !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt.") || strings.HasPrefix(f.Function, "go.etcd.io/bbolt/")
		}
		if !more {
			return false
		}
	}
}
