// Command rats-tls-client is the Rats-TLS sample client: it connects to a
// rats-tls-server, verifies the server's attestation (and, with -m, attests
// itself), sends the C sample's greeting, checks the echo, and prints the
// server's verified claims (one JSON object with --json). It exits 0 only
// when all of that succeeded; otherwise it prints the reason on stderr and
// exits 1.
//
// Its flags are those of the C Rats-TLS sample; see -h.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/internal/cli"
)

const prog = "rats-tls-client"

// Greeting is what the C Rats-TLS client sends.
const Greeting = "Hello and welcome to RATS-TLS!\n"

func main() { cli.Main(prog, run) }

// Result is the --json output.
type Result struct {
	Attester     string            `json:"attester"`
	Verifier     string            `json:"verifier"`
	TLS          string            `json:"tls"`
	Crypto       string            `json:"crypto"`
	Server       string            `json:"server"`
	Attested     bool              `json:"attested"`
	Freshness    string            `json:"freshness"`
	EvidenceType string            `json:"evidence_type"`
	Format       string            `json:"format"`
	Claims       instance.Claims   `json:"claims"`
	CustomClaims map[string][]byte `json:"custom_claims,omitempty"`
	Echo         string            `json:"echo"`
	// Appraisal is the policy's verdict (an EAR result), with --policy.
	Appraisal any `json:"appraisal,omitempty"`
	// Instances are the local instances used, with their sources.
	Instances map[instance.Kind]ratstls.Selection `json:"instances"`
}

func run(ctx context.Context, opts *cli.Options, log *slog.Logger, cfg *ratstls.Config) error {
	addr := net.JoinHostPort(opts.IP, strconv.Itoa(opts.Port))
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Configuration errors (no such instance, a refused plugin) are
	// reported before connecting.
	if err := cfg.Init(dctx, instance.RoleClient); err != nil {
		return err
	}
	c, err := ratstls.Dial(dctx, "tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, Greeting); err != nil {
		return fmt.Errorf("sending the greeting: %w", err)
	}
	echo := make([]byte, len(Greeting))
	if _, err := io.ReadFull(c, echo); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if !bytes.Equal(echo, []byte(Greeting)) {
		return fmt.Errorf("the server echoed %q, want %q", echo, Greeting)
	}
	p := c.Peer()
	sel := cfg.Selected()
	res := Result{
		Attester:     sel[instance.KindAttester].Name,
		Verifier:     p.Verifier,
		TLS:          sel[instance.KindTLS].Name,
		Crypto:       sel[instance.KindCrypto].Name,
		Server:       addr,
		Attested:     p.Attested,
		Freshness:    string(c.Freshness()),
		EvidenceType: p.EvidenceType,
		Format:       string(p.Format),
		Claims:       p.Claims,
		CustomClaims: p.CustomClaims,
		Echo:         string(echo),
		Appraisal:    p.Appraisal,
		Instances:    sel,
	}
	if opts.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printHuman(res)
	return nil
}

func printHuman(r Result) {
	fmt.Printf("Server %s verified by %s (evidence %s, %s; freshness %s; tls %s, crypto %s)\n",
		r.Server, r.Verifier, r.EvidenceType, attested(r.Attested), r.Freshness, r.TLS, r.Crypto)
	if r.Attester != "" {
		fmt.Printf("Client attested with %s\n", r.Attester)
	}
	fmt.Printf("Echo: %s", r.Echo)
	keys := make([]string, 0, len(r.Claims))
	for k := range r.Claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		fmt.Println("Claims: none")
	}
	for _, k := range keys {
		fmt.Printf("  %-20s %v\n", k, r.Claims[k])
	}
	for k, v := range r.CustomClaims {
		fmt.Printf("  custom %-13s %x\n", k, v)
	}
}

func attested(a bool) string {
	if a {
		return "attested"
	}
	return "NOT attested: the peer presented no evidence"
}
