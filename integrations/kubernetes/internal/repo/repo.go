// Package repo finds the greenlight repository this module lives in, for the tests and the
// image command that build its binary and read its deploy folder.
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Root is the folder of the greenlight module: the nearest parent of the working directory
// whose go.mod declares it.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/greenlight/greenlight\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no parent folder holds the greenlight module")
		}
		dir = parent
	}
}
