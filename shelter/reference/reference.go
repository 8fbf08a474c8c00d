// Package reference is shelter's database of reference values: for each
// workload name, the launch measurements (appraisal/reference Values) a
// tenant expects of it, when they were recorded and where they came from.
// "shelter reference add|list|remove" edit it and "shelter
// remoteattestation --workload NAME" checks a workload against it.
//
// The database is one bbolt file (see [DefaultPath]). Its layout:
//
//	shelter/schema           "1"
//	workloads/<name>/values   JSON appraisal/reference.Values
//	workloads/<name>/metadata JSON {"added": RFC 3339, "source": "..."}
//	workloads/<name>/checksum SHA-256 of the name, values and metadata
//
// Every process that opens it takes bbolt's file lock (shared to read,
// exclusive to write), waiting at most Options.LockTimeout: a second
// process holding it gives [ErrLocked], never a hang. A *Store is safe for
// concurrent use by goroutines. Writes are bbolt transactions, synced to
// disk before they return.
//
// Nothing is lost silently: a file that is not a bbolt database, is
// truncated, has a damaged meta page, lacks the schema or holds a record
// that does not decode or match its checksum is refused with [ErrCorrupt]
// naming the file, and is never written to; an existing record is replaced
// only when the caller says so (Add's force). Open reads the whole file to
// check it, which is cheap: a database holds a few records per workload.
package reference

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// EnvDB names the environment variable that overrides the default database
// path.
const EnvDB = "SHELTER_DB"

// Sentinel errors; the wrapping error names the file or the workload.
var (
	// ErrNotFound: no reference values are recorded under the name.
	ErrNotFound = errors.New("no reference values recorded")
	// ErrExists: reference values are already recorded under the name and
	// the caller did not ask to replace them.
	ErrExists = errors.New("reference values already recorded")
	// ErrLocked: another process holds the database for longer than the
	// lock timeout.
	ErrLocked = errors.New("reference database is locked by another process")
	// ErrCorrupt: the file is not a shelter reference database, or is
	// damaged.
	ErrCorrupt = errors.New("reference database is corrupt or not a shelter reference database")
	// ErrNoDatabase: the file does not exist (only opening it read-only
	// says so; opening it to write creates it).
	ErrNoDatabase = errors.New("reference database does not exist")
	// ErrInvalidName: a workload name outside the allowed characters.
	ErrInvalidName = errors.New("invalid workload name")
)

// nameRE is what a workload name may be: it starts with a letter or digit
// and has at most 200 characters, those of image references among them.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$`)

// ValidName checks a workload name.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: want 1 to 200 letters, digits and . _ : / @ + -, starting with a letter or digit", ErrInvalidName, name)
	}
	return nil
}

// DefaultPath is the database path: $SHELTER_DB, else
// $XDG_DATA_HOME/inclavare/shelter.db, else
// ~/.local/share/inclavare/shelter.db.
func DefaultPath() (string, error) {
	if p := os.Getenv(EnvDB); p != "" {
		return p, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "inclavare", "shelter.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the reference database: no $%s, $XDG_DATA_HOME or home directory (%w); give --db FILE", EnvDB, err)
	}
	return filepath.Join(home, ".local", "share", "inclavare", "shelter.db"), nil
}

// checkContext returns ctx's error, wrapped, if it is done.
func checkContext(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
