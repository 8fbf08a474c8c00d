// Command testplugin is a Rats-TLS plugin that misbehaves on request, for
// the tests of framework/plugin. Its behaviour is the content of the file
// testplugin.mode next to the binary, read at start and on every Collect:
//
//	(empty or missing)  behave: an attester of evidence type "test"
//	crash-collect       panic in Collect
//	hang-collect        never answer Collect
//	garbage-collect     answer Collect with an empty evidence type
//	garbage-handshake   print garbage instead of the go-plugin handshake
//	exit-start          exit with status 3 before serving
//	silent-start        never answer the handshake
//
// Named rats-tls-tls-<name>, it serves the TLS wrapper "testplugin" instead,
// whose CheckPeer refuses every peer in mode refuse-peer; in mode
// no-profiler that wrapper does not implement instance.TLSProfiler, which
// plugin.Serve must refuse. Under any other name it serves the attester
// "testplugin", whatever its name says.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/framework/registry"
)

// Name is the instance name.
const Name = "testplugin"

func mode() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(exe), "testplugin.mode"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func main() {
	switch mode() {
	case "exit-start":
		fmt.Fprintln(os.Stderr, "testplugin: exiting at start as asked")
		os.Exit(3)
	case "garbage-handshake":
		fmt.Println("this is not a go-plugin handshake")
		time.Sleep(time.Hour)
	case "silent-start":
		time.Sleep(time.Hour)
	}
	if strings.HasPrefix(filepath.Base(os.Args[0]), plugin.FilePrefix+string(instance.KindTLS)+"-") {
		if mode() == "no-profiler" {
			plugin.Serve(noProfilerRegistration)
		}
		plugin.Serve(tlsRegistration)
	}
	plugin.Serve(attesterRegistration)
}

var attesterRegistration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: "test", Priority: 1},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return attester{}, nil
	},
}

type attester struct{}

func (attester) Descriptor() instance.Descriptor { return attesterRegistration.Descriptor }

func (attester) Close() error { return nil }

func (attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	slog.Info("testplugin collecting", "report_data_bytes", len(reportData))
	switch mode() {
	case "crash-collect":
		panic("testplugin: crash requested")
	case "hang-collect":
		select {}
	case "garbage-collect":
		return instance.Evidence{}, nil
	}
	return instance.Evidence{Type: "test", Data: append([]byte("test:"), reportData...)}, nil
}

func (attester) Endorsements(_ context.Context, ev instance.Evidence) ([]byte, error) {
	return []byte("endorsed " + ev.Type), nil
}

var tlsRegistration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindTLS, Name: Name, Type: "tls1.3", Priority: 1},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return profiler{}, nil
	},
}

// profiler is a TLS wrapper whose peer check can refuse every peer.
type profiler struct{ wrapper }

func (profiler) Descriptor() instance.Descriptor { return tlsRegistration.Descriptor }

func (profiler) Profile(context.Context) (instance.TLSProfile, error) {
	return instance.TLSProfile{Protocol: instance.ProtocolTLS13, ChecksPeer: true}, nil
}

func (profiler) CheckPeer(_ context.Context, rawCerts [][]byte) error {
	if mode() == "refuse-peer" {
		return fmt.Errorf("testplugin refuses this peer (%d certificates)", len(rawCerts))
	}
	return nil
}

var noProfilerRegistration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindTLS, Name: Name, Type: "tls1.3", Priority: 1},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return wrapper{}, nil
	},
}

// wrapper is a TLS wrapper with no profile: it cannot be a plugin.
type wrapper struct{}

func (wrapper) Descriptor() instance.Descriptor { return noProfilerRegistration.Descriptor }

func (wrapper) Close() error { return nil }

func (wrapper) Negotiate(context.Context, net.Conn, *instance.TLSConfig) (instance.Session, error) {
	return nil, fmt.Errorf("testplugin: %w", instance.ErrUnsupported)
}
