package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
)

// checkDestinations makes sure every report file (and $GITHUB_STEP_SUMMARY) can be written
// before anything runs: an analysis of ten minutes must not end in "cannot write verdict.xml".
// A file that does not exist yet is created and removed again, so the check leaves no trace.
func checkDestinations(files map[string]string) error {
	formats := make([]string, 0, len(files))
	for f := range files {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, format := range formats {
		if err := writable(files[format]); err != nil {
			return invalid("--report %s=%s: %v", format, files[format], err)
		}
	}
	if s := summaryFile(); s != "" {
		if err := writable(s); err != nil {
			return invalid("GITHUB_STEP_SUMMARY=%s: %v", s, err)
		}
	}
	return nil
}

func writable(file string) error {
	fi, err := os.Stat(file)
	switch {
	case err == nil && fi.IsDir():
		return errors.New("cannot be written: it is a folder")
	case err == nil && !fi.Mode().IsRegular():
		return nil // a device or pipe the caller chose (/dev/stdout): opened when written
	case err == nil:
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return describeWriteError(err)
		}
		return f.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return describeWriteError(err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return describeWriteError(err)
	}
	f.Close()
	return os.Remove(file)
}

func describeWriteError(err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("cannot be written: its folder does not exist")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("cannot be written: permission denied")
	case errors.As(err, &pe):
		return fmt.Errorf("cannot be written: %v", pe.Err)
	}
	return fmt.Errorf("cannot be written: %v", err)
}
