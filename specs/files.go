package specs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Largest files the loader reads. A spec names files (secrets, JSON Schemas, certificates) and is
// itself a file; each is read whole, so each kind has a ceiling far above any real use and far
// below what would hurt the process.
const (
	MaxSpecFileSize   = 4 << 20  // a spec file
	MaxSecretFileSize = 64 << 10 // a secret's file
	MaxSchemaFileSize = 4 << 20  // a JSON Schema used by schema("…")
	MaxPEMFileSize    = 1 << 20  // a CA bundle, client certificate or key
)

// ReadFileLimited reads a regular file of at most max bytes. A folder, a pipe, a device such as
// /dev/zero or a larger file is refused before it is read, so no path written in a spec can block
// the process or exhaust its memory. Failures of the file system come back as *fs.PathError.
func ReadFileLimited(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkFileInfo(fi, max); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the path become a FIFO between Stat and OpenFile, opening it must not
	// wait for a writer; the mode check on the opened file then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkFileInfo(fi, max); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, tooLarge(max)
	}
	return b, nil
}

// checkFile checks, without reading it, that path is a regular file of at most max bytes: for the
// files a spec names that are read later (certificates), so that a bad one is a load error.
func checkFile(path string, max int64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return checkFileInfo(fi, max)
}

func checkFileInfo(fi fs.FileInfo, max int64) error {
	switch {
	case fi.IsDir():
		return errIsFolder
	case !fi.Mode().IsRegular():
		return errNotRegular
	case fi.Size() > max:
		return tooLarge(max)
	}
	return nil
}

var (
	errIsFolder   = errors.New("is a folder, not a file")
	errNotRegular = errors.New("is not a regular file (a device, pipe or socket)")
)

func tooLarge(max int64) error {
	return fmt.Errorf("is larger than %s, the limit for this kind of file", formatSize(max))
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// CertPool reads a CA bundle a spec names (with the limits of ReadFileLimited) into a pool.
func CertPool(path string) (*x509.CertPool, error) {
	pem, err := ReadFileLimited(path, MaxPEMFileSize)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// KeyPair reads a client certificate and its key (with the limits of ReadFileLimited).
func KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := ReadFileLimited(certFile, MaxPEMFileSize)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ReadFileLimited(keyFile, MaxPEMFileSize)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}
