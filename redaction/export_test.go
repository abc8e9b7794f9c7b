package redaction

// SetHook installs a function run before each write step of r's
// operations; tests use it to inject faults.
func SetHook(r *Redactor, hook func(step string) error) { r.hook = hook }
