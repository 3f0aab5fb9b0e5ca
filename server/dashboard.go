package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// The dashboard is static files built into the binary: a page, its stylesheet and small ES
// modules, without a build step and without anything from another origin. The page and its
// assets are public; everything it shows comes from the API, with the token the person enters
// (see ui/api.js).
//
//go:embed ui
var uiFiles embed.FS

// contentSecurityPolicy allows the page its own scripts, styles and API only: no inline script
// or style, no other origin, no frames.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file with its ETag.
type asset struct {
	data []byte
	etag string
	kind string
}

var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// dashboardAssets reads the embedded files once.
func dashboardAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(uiFiles, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		kind, ok := assetTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		data, err := uiFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[path.Base(p)] = asset{data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, kind: kind}
		return nil
	})
	return out, err
}

// dashboardRoutes serves the page at / and its files under /ui/. They are not API routes:
// the OpenAPI document leaves them out.
func (s *Server) dashboardRoutes() error {
	assets, err := dashboardAssets()
	if err != nil {
		return err
	}
	serve := func(w http.ResponseWriter, r *http.Request, name string) {
		a, ok := assets[name]
		if !ok {
			writeError(w, errorf(http.StatusNotFound, "no such file: %s", r.URL.Path))
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.kind)
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	}
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html") })
	s.mux.HandleFunc("GET /ui/{file}", func(w http.ResponseWriter, r *http.Request) { serve(w, r, r.PathValue("file")) })
	return nil
}
