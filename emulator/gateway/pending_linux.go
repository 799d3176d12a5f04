package gateway

import (
	"os"
	"syscall"
	"unsafe"
)

// pending is the number of unread bytes in a pipe (FIONREAD).
func pending(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int32
	var errno syscall.Errno
	rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return int(n), errno == 0
}
