package enclave

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StateFile is the name of the enclave state rune keeps in a container's
// state directory.
const StateFile = "enclave.json"

// RunDirName is the name of the per-container run directory, inside the
// container's state directory, mounted at ContainerRunDir.
const RunDirName = "enclave-run"

// ExecSocketName is the runelet's exec socket in the run directory.
const ExecSocketName = "exec.sock"

// State is what rune remembers of a container's enclave after create.
type State struct {
	// Type is the enclave type.
	Type Type `json:"type"`
	// RunDir is the host path of the run directory.
	RunDir string `json:"run_dir"`
}

// ExecSocket is the host path of the runelet's exec socket.
func (s *State) ExecSocket() string { return filepath.Join(s.RunDir, ExecSocketName) }

// WriteState records s in the container state directory dir.
func WriteState(dir string, s *State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding the enclave state: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), data, 0o600); err != nil {
		return fmt.Errorf("writing the enclave state: %w", err)
	}
	return nil
}

// ReadState reads the enclave state from the container state directory
// dir; it returns nil and no error for a container without an enclave.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the enclave state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decoding the enclave state %s: %w", filepath.Join(dir, StateFile), err)
	}
	return &s, nil
}
