package cdrstore

import "syscall"

// mmapPopulate is the mmap flag of Options.PopulateMmap.
const mmapPopulate = syscall.MAP_POPULATE
