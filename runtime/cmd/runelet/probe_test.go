package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runProbe runs `runelet probe ARGS...`.
func runProbe(t *testing.T, args ...string) (code int, report probeReport, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(runeletPath(), append([]string{"probe"}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if code == 0 {
		dec := json.NewDecoder(strings.NewReader(out.String()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&report); err != nil {
			t.Fatalf("probe printed %q: %v", out.String(), err)
		}
	}
	return code, report, out.String(), errOut.String()
}

func TestProbe(t *testing.T) {
	need(t)
	all := []string{"pal_get_version", "pal_init", "pal_create_process", "pal_exec", "pal_kill", "pal_get_local_report", "pal_destroy"}
	for v, want := range map[int][]string{
		1: {"pal_init", "pal_exec", "pal_destroy"},
		2: slices.Delete(slices.Clone(all), 5, 6),
		3: all,
	} {
		code, r, out, errOut := runProbe(t, "--pal", skeletonPath(v))
		if code != 0 || r.Version != v || !slices.Equal(r.Symbols, want) || len(r.Missing) != 0 || r.Error != "" {
			t.Errorf("v%d: exit %d, report %+v, stderr %q", v, code, r, errOut)
		}
		if !strings.Contains(out, `"missing":[]`) {
			t.Errorf("v%d: %s: missing must be an empty list", v, out)
		}
	}

	code, r, _, _ := runProbe(t, "--pal", filepath.Join(binDir, "version4.so"))
	if code != 0 || r.Version != 4 || !strings.Contains(r.Error, "unsupported PAL API version") {
		t.Errorf("version 4: exit %d, report %+v", code, r)
	}
	code, r, _, _ = runProbe(t, "--pal", filepath.Join(binDir, "nokill.so"))
	if code != 0 || r.Version != 2 || !slices.Equal(r.Missing, []string{"pal_create_process", "pal_kill"}) || !strings.Contains(r.Error, "does not export") {
		t.Errorf("PAL without pal_kill: exit %d, report %+v", code, r)
	}

	garbage := filepath.Join(t.TempDir(), "garbage.so")
	if err := os.WriteFile(garbage, []byte("\x7fELF\x02\x01\x01garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{garbage, filepath.Join(t.TempDir(), "none.so")} {
		code, _, out, errOut := runProbe(t, "--pal", path)
		if code != 1 || out != "" || !strings.Contains(errOut, "loading the PAL "+path) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and a message naming it", path, code, out, errOut)
		}
	}
	for _, args := range [][]string{nil, {"--pal"}, {"--pal", skeletonPath(3), "extra"}} {
		if code, _, _, errOut := runProbe(t, args...); code != 2 || !strings.Contains(errOut, "usage") {
			t.Errorf("probe %q: exit %d, stderr %q; want usage", args, code, errOut)
		}
	}
}
