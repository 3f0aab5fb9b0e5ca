package specs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCertFilesAreBounded: CA bundles and client key pairs are read with the PEM limits and
// refused when they hold no certificate or are not regular files.
func TestCertFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o600))
	_, err := CertPool(notPEM)
	assert.ErrorContains(t, err, "holds no PEM certificate")
	_, err = CertPool(dir)
	assert.Error(t, err, "a folder is no CA bundle")
	big := filepath.Join(dir, "big.pem")
	require.NoError(t, os.WriteFile(big, make([]byte, MaxPEMFileSize+1), 0o600))
	_, err = CertPool(big)
	assert.Error(t, err)
	_, err = KeyPair(big, notPEM)
	assert.Error(t, err)
}
