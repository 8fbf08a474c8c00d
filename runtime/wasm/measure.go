package wasm

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
)

// Measurement is a module's measurement: the SHA-256 of its bytes, exactly
// as they are compiled.
type Measurement [sha256.Size]byte

// Measure returns the measurement of the module bin.
func Measure(bin []byte) Measurement { return sha256.Sum256(bin) }

// MeasureFile returns the measurement of the module in the file at path.
func MeasureFile(path string) (Measurement, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return Measurement{}, fmt.Errorf("wasm: reading module to measure it: %w", err)
	}
	return Measure(bin), nil
}

// String is the measurement in lower-case hex.
func (m Measurement) String() string { return hex.EncodeToString(m[:]) }

// Equal reports whether m and o are the same measurement, in constant
// time.
func (m Measurement) Equal(o Measurement) bool {
	return subtle.ConstantTimeCompare(m[:], o[:]) == 1
}
