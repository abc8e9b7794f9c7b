// Package killpoint names the points inside multi-step file work where the
// crash tests stop the process. Library code calls [Reach] at each point;
// it does nothing unless a test installed a hook with [Set].
package killpoint

import "sync/atomic"

var hook atomic.Pointer[func(name string)]

// Reach runs the installed hook, if any, for the point called name.
func Reach(name string) {
	if f := hook.Load(); f != nil {
		(*f)(name)
	}
}

// Set installs f as the hook (nil removes it). Only tests call it.
func Set(f func(name string)) {
	if f == nil {
		hook.Store(nil)
		return
	}
	hook.Store(&f)
}
