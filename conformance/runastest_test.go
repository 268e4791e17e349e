package conformance_test

import (
	"flag"
	"regexp"
	"testing"
)

// runAsTest runs f as a top-level test named name, as go test would, and
// reports whether it passed. Examples use it to run the suite in place: a
// failing subtest prints its failure, which breaks the example's Output.
//
// Naming the test after the example keeps -run and -skip consistent: the
// example runs only when the pattern selects its name, and then the pattern
// selects the test too. Verbose output is switched off for the duration, so
// that -v does not add "=== RUN" lines to the example's output.
func runAsTest(name string, f func(*testing.T)) bool {
	if v := flag.Lookup("test.v"); v != nil {
		old := v.Value.String()
		if err := v.Value.Set("false"); err == nil {
			defer func() { _ = v.Value.Set(old) }()
		}
	}
	return testing.RunTests(regexp.MatchString, []testing.InternalTest{{Name: name, F: f}})
}
