package examples

import (
	"io/fs"
	"os"
	"regexp"
	"testing"
)

// TestExamplesNameTheAppsPorts keeps the "run it" lines of the example specs pointed at where
// examples/app/README.md starts the apps: blue on 8081, green on 8082 (and the bundled
// analysis's trace receiver on 4318), so that a newcomer's copy-paste reaches them.
func TestExamplesNameTheAppsPorts(t *testing.T) {
	ports := map[string]bool{"8081": true, "8082": true, "4318": true}
	readme, err := os.ReadFile("app/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1:8081", "127.0.0.1:8082", "go run ./examples/app/cmd/bluegreen"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).Match(readme) {
			t.Errorf("examples/app/README.md does not say %q", want)
		}
	}
	addr := regexp.MustCompile(`(?:localhost|127\.0\.0\.1):([0-9]+)`)
	err = fs.WalkDir(Specs, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Specs, path)
		if err != nil {
			return err
		}
		for _, m := range addr.FindAllSubmatch(b, -1) {
			if !ports[string(m[1])] {
				t.Errorf("examples/%s names %s, where no example app listens (blue 8081, green 8082)", path, m[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
