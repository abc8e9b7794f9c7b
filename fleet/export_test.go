package fleet

// SetAfterReport sets the hook run after a command's report is written
// and before it is acknowledged; an error stops Run there, as a crash
// between commit and acknowledgement would.
func (a *Agent) SetAfterReport(fn func(seq uint64) error) { a.afterReport = fn }

// SetBeforeApply sets the hook run before each attempt to apply a
// command; its error is a transient failure, retried.
func (a *Agent) SetBeforeApply(fn func(kind Kind) error) { a.beforeApply = fn }
