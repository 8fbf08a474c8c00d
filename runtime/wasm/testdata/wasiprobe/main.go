// Command wasiprobe is a WASI (wasip1) test workload for runtime/wasm,
// built by the tests with GOOS=wasip1 GOARCH=wasm: a real toolchain's
// module, with the Go runtime's start-up, for what the small hand-written
// modules beside it do not show.
//
//	wasiprobe echo ARGS...       print ARGS joined by spaces
//	wasiprobe env NAME           print $NAME, or "unset"
//	wasiprobe cat PATH           print the file at PATH
//	wasiprobe write PATH TEXT    write TEXT to the file at PATH
//	wasiprobe stdin              copy stdin to stdout
//	wasiprobe rand               print 16 random bytes in hex
//	wasiprobe time               print the wall clock in Unix seconds
//	wasiprobe exit N             exit with code N
//
// Errors go to stderr with exit code 1.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wasiprobe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no command")
	}
	switch cmd, args := args[0], args[1:]; {
	case cmd == "echo":
		fmt.Println(strings.Join(args, " "))
	case cmd == "env" && len(args) == 1:
		v, ok := os.LookupEnv(args[0])
		if !ok {
			v = "unset"
		}
		fmt.Println(v)
	case cmd == "cat" && len(args) == 1:
		b, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		os.Stdout.Write(b)
	case cmd == "write" && len(args) == 2:
		return os.WriteFile(args[0], []byte(args[1]), 0o644)
	case cmd == "stdin":
		_, err := io.Copy(os.Stdout, os.Stdin)
		return err
	case cmd == "rand":
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		fmt.Println(hex.EncodeToString(b))
	case cmd == "time":
		fmt.Println(time.Now().Unix())
	case cmd == "exit" && len(args) == 1:
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		os.Exit(n)
	default:
		return fmt.Errorf("bad command %q %q", cmd, args)
	}
	return nil
}
