// Package wasmhello tests the sample WASI workload hello.wasm with
// runtime/wasm, the runtime that runelet-wasm runs it with.
package wasmhello

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

// runHello runs the committed hello.wasm with args and returns its exit
// code and stdout.
func runHello(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bin, err := os.ReadFile("hello.wasm")
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
	var stdout, stderr bytes.Buffer
	code, err := r.Run(ctx, m, wasm.Process{Args: append([]string{"/hello.wasm"}, args...), Stdout: &stdout, Stderr: &stderr})
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("hello %q: %v, stderr %q", args, err, stderr.String())
	}
	return code, stdout.String()
}

func TestHello(t *testing.T) {
	const greeting = "Hello from WebAssembly in an Inclavare wasm enclave!\n"
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"no arguments", nil, 0, greeting},
		{"arguments", []string{"world", "two words", ""}, 0, greeting + "arg: world\narg: two words\narg: \n"},
		{"exit code", []string{"exit=3", "after"}, 3, greeting + "arg: exit=3\narg: after\n"},
		{"last exit code wins", []string{"exit=3", "exit=0"}, 0, greeting + "arg: exit=3\narg: exit=0\n"},
		{"not an exit code", []string{"exit=", "exit=x1", "exit", "exit=1x"}, 0, greeting + "arg: exit=\narg: exit=x1\narg: exit\narg: exit=1x\n"},
		{"exit code above 255", []string{"exit=300"}, wasm.MaxExitCode, greeting + "arg: exit=300\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout := runHello(t, tt.args...)
			if code != tt.code || stdout != tt.stdout {
				t.Errorf("hello %q = %d, %q; want %d, %q", tt.args, code, stdout, tt.code, tt.stdout)
			}
		})
	}
}

// TestTooManyArguments: arguments that do not fit its one page of memory
// make hello exit with 2 and say so, rather than write past its buffers.
func TestTooManyArguments(t *testing.T) {
	bin, err := os.ReadFile("hello.wasm")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := wasm.New(ctx, wasm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.Compile(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{make([]string, 800), {strings.Repeat("x", 70000)}} {
		var stdout, stderr bytes.Buffer
		code, err := r.Run(ctx, m, wasm.Process{Args: append([]string{"hello"}, args...), Stdout: &stdout, Stderr: &stderr})
		if code != 2 || err != nil || stderr.String() != "hello: too many or too long arguments\n" {
			t.Errorf("%d arguments: %d, %v, stderr %q; want 2 and the module's error", len(args), code, err, stderr.String())
		}
	}
}

// TestWasmMatchesSource reassembles hello.wat with wabt's wat2wasm, when
// it is installed, and compares it with the committed hello.wasm.
func TestWasmMatchesSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (wabt) is not installed: hello.wasm is not checked against hello.wat")
	}
	out := filepath.Join(t.TempDir(), "hello.wasm")
	if b, err := exec.Command(wat2wasm, "hello.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm hello.wat: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("hello.wasm"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("hello.wasm is not hello.wat assembled (%v): run wat2wasm again (README.md)", err)
	}
}
