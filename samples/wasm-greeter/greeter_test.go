// Package wasmgreeter tests the sample WASI workload greeter.wasm with
// runtime/wasm, the runtime that runelet-wasm runs it with.
package wasmgreeter

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/runtime/wasm"
)

const suffix = "! Greetings from a WebAssembly module in an Inclavare confidential container.\n"

func TestGreeter(t *testing.T) {
	bin, err := os.ReadFile("greeter.wasm")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Options{MemoryLimit: wasm.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.Compile(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1500)
	for _, tt := range []struct {
		name, stdin, stdout string
	}{
		{"a line", "tenant\nignored\n", "Hello, tenant" + suffix},
		{"carriage return", "tenant\r\n", "Hello, tenant" + suffix},
		{"no newline", "tenant", "Hello, tenant" + suffix},
		{"empty input", "", "Hello, " + suffix},
		{"too long", long, "Hello, " + long[:1024] + suffix},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, err := r.Run(ctx, m, wasm.Process{Args: []string{"greeter"}, Stdin: strings.NewReader(tt.stdin), Stdout: &stdout, Stderr: &stderr})
			if code != 0 || err != nil || stderr.Len() > 0 || stdout.String() != tt.stdout {
				t.Errorf("greeter <%q = %d, %v, stdout %q, stderr %q; want 0 and %q", tt.stdin, code, err, stdout.String(), stderr.String(), tt.stdout)
			}
		})
	}
}

// TestWasmMatchesSource reassembles greeter.wat with wabt's wat2wasm, when
// it is installed, and compares it with the committed greeter.wasm.
func TestWasmMatchesSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (wabt) is not installed: greeter.wasm is not checked against greeter.wat")
	}
	out := filepath.Join(t.TempDir(), "greeter.wasm")
	if b, err := exec.Command(wat2wasm, "greeter.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm greeter.wat: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("greeter.wasm"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("greeter.wasm is not greeter.wat assembled (%v): run wat2wasm again (README.md)", err)
	}
}
