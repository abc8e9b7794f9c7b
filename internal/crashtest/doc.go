// Package crashtest holds the store's crash and soak tests: a child
// process runs a mixed workload and is killed with SIGKILL at a random
// moment; the parent reopens the store and checks that every operation the
// child reported as done is wholly there and none is half-applied.
package crashtest
