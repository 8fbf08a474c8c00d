package envhex

import (
	"bytes"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	const name = "INCLAVARE_ENVHEX_TEST"
	dst := []byte{9, 9}
	t.Setenv(name, "")
	if err := Read(name, dst); err != nil || !bytes.Equal(dst, []byte{9, 9}) {
		t.Errorf("unset: %v, %x", err, dst)
	}
	t.Setenv(name, "0aff")
	if err := Read(name, dst); err != nil || !bytes.Equal(dst, []byte{0x0a, 0xff}) {
		t.Errorf("0aff: %v, %x", err, dst)
	}
	for _, bad := range []string{"0a", "0aff00", "zz11"} {
		t.Setenv(name, bad)
		if err := Read(name, dst); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "2 bytes") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
