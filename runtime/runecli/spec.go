package runecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer/capabilities"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli"

	"github.com/inclavare/inclavare/runtime/enclave"
)

var specCommand = cli.Command{
	Name:  "spec",
	Usage: "create a new specification file",
	Description: `The spec command creates the new specification file named "config.json" for
the bundle. To run the workload inside an enclave runtime, add the annotations
enclave.type (intelSgx, simulated or wasm) and, for a PAL enclave,
enclave.runtime.path (the PAL shared object), enclave.runtime.args and
enclave.runtime.loglevel.`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "bundle, b", Usage: "path to the root of the bundle directory"},
		cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, exactArgs); err != nil {
			return err
		}
		spec := specconv.Example()
		if c.Bool("rootless") {
			specconv.ToRootless(spec)
		}
		if bundle := c.String("bundle"); bundle != "" {
			if err := os.Chdir(bundle); err != nil {
				return fmt.Errorf("entering the bundle: %w", err)
			}
		}
		if _, err := os.Stat(specConfig); err == nil {
			return fmt.Errorf("File %s exists. Remove it first", specConfig)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("checking for %s: %w", specConfig, err)
		}
		data, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			return fmt.Errorf("encoding the spec: %w", err)
		}
		return os.WriteFile(specConfig, data, 0o666)
	},
}

// AnnotationRuneVersion is the features annotation with rune's version.
const AnnotationRuneVersion = "io.github.inclavare.rune.version"

// AnnotationEnclaveTypes is the features annotation listing the enclave
// types rune launches, comma separated.
const AnnotationEnclaveTypes = "io.github.inclavare.rune.enclave.types"

var featuresCommand = cli.Command{
	Name:  "features",
	Usage: "show the enabled features",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, exactArgs); err != nil {
			return err
		}
		t, f := true, false
		types := ""
		for i, et := range enclave.Types {
			if i > 0 {
				types += ","
			}
			types += string(et)
		}
		feat := features.Features{
			OCIVersionMin: "1.0.0",
			OCIVersionMax: specs.Version,
			Annotations: map[string]string{
				AnnotationRuneVersion:  c.App.Version,
				AnnotationEnclaveTypes: types,
			},
			Hooks:        configs.KnownHookNames(),
			MountOptions: specconv.KnownMountOptions(),
			Linux: &features.Linux{
				Namespaces:   specconv.KnownNamespaces(),
				Capabilities: capabilities.KnownCapabilities(),
				Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &f, SystemdUser: &f},
			},
			PotentiallyUnsafeConfigAnnotations: []string{"bundle", enclave.AnnotationRuntimePath, enclave.AnnotationLibs},
		}
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "    ")
		return enc.Encode(feat)
	},
}
