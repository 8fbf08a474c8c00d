// Package envhex reads fixed-size binary values (measurements, digests)
// from hex in environment variables, as the simulated TEEs take them.
package envhex

import (
	"encoding/hex"
	"fmt"
	"os"
)

// Read fills dst from the hex in environment variable name, which must
// encode exactly len(dst) bytes. An unset or empty variable leaves dst as
// it is.
func Read(name string, dst []byte) error {
	s := os.Getenv(name)
	if s == "" {
		return nil
	}
	d, err := hex.DecodeString(s)
	if err != nil || len(d) != len(dst) {
		return fmt.Errorf("%s=%q is not %d bytes in hex", name, s, len(dst))
	}
	copy(dst, d)
	return nil
}
