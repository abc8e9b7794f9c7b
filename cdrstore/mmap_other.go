//go:build !linux

package cdrstore

// mmapPopulate is the mmap flag of Options.PopulateMmap: none here.
const mmapPopulate = 0
