//go:build !unix

package sevsnp

import "time"

func cpuTime() time.Duration { return 0 }
