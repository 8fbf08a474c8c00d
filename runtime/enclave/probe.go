package enclave

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// MaxPALVersion is the newest PAL API version rune speaks.
const MaxPALVersion = 3

// ProbeResult is what `runelet probe` reports about a PAL.
type ProbeResult struct {
	// Version is pal_get_version's answer (1 when the PAL has no such symbol).
	Version int `json:"version"`
	// Symbols are the PAL API symbols the shared object exports.
	Symbols []string `json:"symbols"`
	// Missing are the symbols its version requires but it lacks.
	Missing []string `json:"missing"`
	// Error says why the PAL is unusable, when the runelet found it so.
	Error string `json:"error,omitempty"`
}

// Prober inspects a PAL shared object without loading it into rune.
type Prober interface {
	Probe(ctx context.Context, pal string) (*ProbeResult, error)
}

// RuneletProber runs `runelet probe --pal PATH` on the host.
type RuneletProber struct {
	// Runelet is the host path of the runelet binary.
	Runelet string
	// Timeout bounds the probe; zero means 10 seconds.
	Timeout time.Duration
}

// Probe runs the runelet's probe on pal and decodes its JSON report.
func (p RuneletProber) Probe(ctx context.Context, pal string) (*ProbeResult, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, p.Runelet, "probe", "--pal", pal)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("probing PAL %s: runelet probe took longer than %s", pal, timeout)
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("probing PAL %s with %s: %s", pal, p.Runelet, msg)
	}
	r, err := ParseProbe(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("probing PAL %s: %w", pal, err)
	}
	return r, nil
}

// maxProbeReport bounds the probe's report.
const maxProbeReport = 64 << 10

// ParseProbe decodes the JSON report of `runelet probe`: one object with a
// version, and nothing after it.
func ParseProbe(data []byte) (*ProbeResult, error) {
	if len(data) > maxProbeReport {
		return nil, fmt.Errorf("runelet probe report is %d bytes, more than %d", len(data), maxProbeReport)
	}
	var raw struct {
		Version *int     `json:"version"`
		Symbols []string `json:"symbols"`
		Missing []string `json:"missing"`
		Error   string   `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("runelet probe printed no valid JSON report: %w", err)
	}
	if dec.More() {
		return nil, errors.New("runelet probe printed more than one JSON report")
	}
	if raw.Version == nil {
		return nil, errors.New("runelet probe report has no version")
	}
	return &ProbeResult{Version: *raw.Version, Symbols: raw.Symbols, Missing: raw.Missing, Error: raw.Error}, nil
}

// checkProbe checks a probe report: a version rune speaks, no missing symbol.
func checkProbe(pal string, r *ProbeResult) error {
	if r.Version < 1 || r.Version > MaxPALVersion {
		return fmt.Errorf("PAL %s speaks PAL API version %d; rune supports versions 1 to %d", pal, r.Version, MaxPALVersion)
	}
	if len(r.Missing) > 0 {
		return fmt.Errorf("PAL %s (API version %d) lacks required symbols %s: rebuild it against the PAL API", pal, r.Version, strings.Join(r.Missing, ", "))
	}
	if r.Error != "" {
		return fmt.Errorf("PAL %s is unusable: %s", pal, r.Error)
	}
	return nil
}
