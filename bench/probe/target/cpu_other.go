//go:build !unix

package target

import "time"

// ProcessCPU returns -1: this system's CPU accounting is not read here.
func ProcessCPU() time.Duration { return -1 }
