package main

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"
)

// oTmpfile is O_TMPFILE (__O_TMPFILE | O_DIRECTORY), which the syscall
// package does not define; __O_TMPFILE is 020000000 on every Linux
// architecture Go supports.
const oTmpfile = 0o20000000 | syscall.O_DIRECTORY

const atSymlinkFollow = 0x400 // AT_SYMLINK_FOLLOW

// atFdcwd is AT_FDCWD (-100) as the system call takes it.
var atFdcwd = uintptr(^uint(99))

// unnamedFile opens a file in dir that has no name (O_TMPFILE): the
// kernel frees it when the process ends, unless link has given it one.
// It fails where the file system (or the kernel) does not offer it, or
// /proc is not mounted, and the caller falls back to a named file.
func unnamedFile(dir string) (*os.File, func(path string) error, error) {
	fd, err := syscall.Open(dir, oTmpfile|syscall.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	proc := "/proc/self/fd/" + strconv.Itoa(fd)
	if _, err := os.Stat(proc); err != nil {
		syscall.Close(fd)
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")) // the name errors give it
	link := func(path string) error {
		// linkat(2) with AT_SYMLINK_FOLLOW names the open file; an
		// unprivileged process may do so through /proc/self/fd.
		from, err := syscall.BytePtrFromString(proc)
		if err != nil {
			return err
		}
		to, err := syscall.BytePtrFromString(path)
		if err != nil {
			return err
		}
		_, _, errno := syscall.Syscall6(syscall.SYS_LINKAT, atFdcwd, uintptr(unsafe.Pointer(from)),
			atFdcwd, uintptr(unsafe.Pointer(to)), atSymlinkFollow, 0)
		if errno != 0 {
			return &os.LinkError{Op: "link", Old: proc, New: path, Err: errno}
		}
		return nil
	}
	return f, link, nil
}
