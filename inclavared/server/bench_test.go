package server

import (
	"bufio"
	"context"
	"io"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
)

// BenchmarkGetEnclaveInfo is one shelter session through inclavared:
// shelter's handshake, inclavared's attested handshake with a sev_snp_sim
// workload (exporter mode, so evidence is collected and verified every
// time), and the GETENCLAVEINFO answer.
func BenchmarkGetEnclaveInfo(b *testing.B) {
	s := start(b, workload(b, "tcp", "127.0.0.1:0", echo), nil)
	cfg := &ratstls.Config{Verifier: instance.NullVerifierName, Logger: quiet}
	defer cfg.Close()
	ctx := context.Background()
	for b.Loop() {
		c, err := ratstls.Dial(ctx, s.addr.Network, s.addr.Addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(c, api.GetEnclaveInfoLine)
		if _, err := bufio.NewReader(c).ReadBytes('\n'); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkDirectWorkload is the same workload handshake without
// inclavared, for comparison: shelter verifying the workload itself.
func BenchmarkDirectWorkload(b *testing.B) {
	xfer := workload(b, "tcp", "127.0.0.1:0", echo)
	cfg := &ratstls.Config{AllowSimulated: true, Logger: quiet}
	defer cfg.Close()
	ctx := context.Background()
	for b.Loop() {
		c, err := ratstls.Dial(ctx, xfer.Network, xfer.Addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkForward is the forwarding throughput: 1 MiB to an echoing
// workload and back through inclavared, on one open session.
func BenchmarkForward(b *testing.B) {
	s := start(b, workload(b, "tcp", "127.0.0.1:0", echo), nil)
	cfg := &ratstls.Config{Verifier: instance.NullVerifierName, Logger: quiet}
	defer cfg.Close()
	c, err := ratstls.Dial(context.Background(), s.addr.Network, s.addr.Addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 1<<20)
	buf := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			errc <- err
		}()
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
}
