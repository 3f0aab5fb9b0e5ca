//go:build unix

package target

import (
	"syscall"
	"time"
)

// ProcessCPU returns the user+system CPU time the calling process has used, or -1 where the
// system does not say.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
