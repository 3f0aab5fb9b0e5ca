package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/greenlight/greenlight/specs"
)

// Deps are what the process gives every source it builds: one HTTP client (so its transport and
// connection pools serve every analysis), one logger, and where DD_API_KEY and the like are read.
type Deps struct {
	HTTPClient *http.Client // nil: the source makes its own
	Logger     *slog.Logger // never nil when Open is called
	LookupEnv  func(string) (string, bool)
}

// Kind is one kind of source as an analysis builds it: everything package analysis knows of
// a source is one Kind, listed once in its map under the source's key in specs.SourceKinds.
// Adding a source is a package beside this one that exports its Kind, and one line in that map.
type Kind struct {
	// Open builds the source an analysis declares (its key under sources:), without I/O.
	Open func(s *specs.Sources, deps Deps) (Source, error)
	// Key names the client Open would build, so that analyses reading the same endpoint with
	// the same credentials share one: the endpoint in clear and a hash (ConfigHash) of the rest,
	// credentials included, never a secret itself. Two declarations with the same Key must
	// build sources that answer alike. Nil: every analysis builds its own.
	Key func(s *specs.Sources, deps Deps) string
	// Query compiles what a check that reads the source asks of it (a query template, an
	// operation), without I/O. Its Shape tells the check how to read the answers.
	Query func(c *specs.Check) (Query, error)
}

// ConfigHash is a short hex digest of a source's configuration, secrets revealed into the hash
// and nowhere else, for Kind.Key. Each part is length-prefixed so that no two lists of parts
// hash alike by shifting text from one part to the next.
func ConfigHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Unsupported is the error of a Query for a check kind the source cannot answer.
func Unsupported(source string, c *specs.Check) error {
	return fmt.Errorf("%s cannot answer a %s check", source, c.Kind())
}
