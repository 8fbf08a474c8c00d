package wasm

import (
	"context"
	"os"
	"testing"
)

// startOnce is one start of a module as runelet-wasm does it: a new
// Runtime on cacheDir, compile (or load from the cache), run, close.
func startOnce(b *testing.B, bin []byte, cacheDir string, args ...string) {
	ctx := context.Background()
	r, err := New(ctx, Options{CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	m, err := r.Compile(ctx, bin)
	if err != nil {
		b.Fatal(err)
	}
	if code, err := r.Run(ctx, m, Process{Args: args}); code != 0 || err != nil {
		b.Fatalf("Run = %d, %v", code, err)
	}
}

// BenchmarkColdStart starts wasiprobe (Go's wasip1 port, about 3 MB) with
// an empty compilation cache each time: it compiles the module.
func BenchmarkColdStart(b *testing.B) {
	bin := probeModule(b)
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "inclavare-wasm-cache-")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		startOnce(b, bin, dir, "wasiprobe", "echo")
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// BenchmarkWarmStart starts wasiprobe with the compilation cache filled by
// an earlier start: it loads the compiled code instead of compiling.
func BenchmarkWarmStart(b *testing.B) {
	bin := probeModule(b)
	dir := b.TempDir()
	startOnce(b, bin, dir, "wasiprobe", "echo")
	for b.Loop() {
		startOnce(b, bin, dir, "wasiprobe", "echo")
	}
}
