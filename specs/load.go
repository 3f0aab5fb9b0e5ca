package specs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadOptions tune loading.
type LoadOptions struct {
	// LookupEnv reads environment variables for ${VAR}, secrets and env "NAME"; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Vars override suite vars (--var NAME=VALUE).
	Vars map[string]string
	// AllowMissingSecrets makes a secret whose environment variable is unset, or whose file does
	// not exist, a warning (in Documents.Warnings) instead of an error: `validate` runs where the
	// secrets are not (a pull request); smoke and verify need them.
	AllowMissingSecrets bool
	// SecretsWhenUsed keeps a suite's missing secret on the suite (Suite.MissingSecrets) instead
	// of failing the load: Analysis.RequireSecrets then reports those of the suites an analysis
	// uses. verify sets it, since a suites folder may hold suites for other analyses, with
	// secrets its run has no reason to have.
	SecretsWhenUsed bool
}

// Documents is everything loaded from a set of files.
type Documents struct {
	Suites   []*Suite
	Analyses []*Analysis
	// Notifications configures the daemon's deliveries (at most one document; nil: none).
	Notifications *Notifications
	// Warnings are problems that do not make the documents invalid (see AllowMissingSecrets).
	Warnings Errors
}

// Analysis returns the analysis with the given name, or nil.
func (ds *Documents) Analysis(name string) *Analysis {
	for _, a := range ds.Analyses {
		if a.Metadata.Name == name {
			return a
		}
	}
	return nil
}

// Suite returns the suite with the given name, or nil.
func (ds *Documents) Suite(name string) *Suite {
	for _, s := range ds.Suites {
		if s.Metadata.Name == name {
			return s
		}
	}
	return nil
}

// Load reads spec files; a path may be a file or a folder (its *.yaml and *.yml files, recursively,
// in name order). The error, if any, is an Errors holding every problem found.
func Load(paths []string, opts LoadOptions) (*Documents, error) {
	docs, errs, unreadable := load(paths, opts)
	// Link even when some files had errors: a problem in one file must not hide another's.
	// References into a file that could not be parsed are reported with that as the likely cause.
	var es Errors
	if errors.As(docs.link(opts, unreadable), &es) {
		errs = append(errs, es...)
	}
	docs.Warnings.sort()
	if err := errs.err(); err != nil {
		return docs, err
	}
	return docs, nil
}

// load reads and parses the files without linking them. unreadable lists the files whose
// documents could not all be read (a read error or a YAML syntax error).
func load(paths []string, opts LoadOptions) (docs *Documents, errs Errors, unreadable []string) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs.add(Position{File: p}, "%s", describeFSError(err))
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		_ = filepath.WalkDir(p, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				errs.add(Position{File: path}, "%s", describeFSError(err))
				return nil
			}
			// Hidden folders are skipped: a Kubernetes ConfigMap volume keeps its files in a
			// hidden, timestamped folder and links each key to it; walking both would load
			// every spec twice.
			if de.IsDir() && path != p && strings.HasPrefix(de.Name(), ".") {
				return fs.SkipDir
			}
			if !de.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				found = append(found, path)
			}
			return nil
		})
		if len(found) == 0 {
			errs.add(Position{File: p}, "no .yaml or .yml files in this folder")
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	docs = &Documents{}
	for _, f := range files {
		data, err := ReadFileLimited(f, MaxSpecFileSize)
		if err != nil {
			errs.add(Position{File: f}, "%s", describeFSError(err))
			unreadable = append(unreadable, f)
			continue
		}
		d, err := Parse(f, data, opts)
		var es Errors
		if errors.As(err, &es) {
			errs = append(errs, es...)
			for _, e := range es {
				if e.syntax {
					unreadable = append(unreadable, f)
					break
				}
			}
		}
		if d != nil {
			docs.Suites = append(docs.Suites, d.Suites...)
			docs.Analyses = append(docs.Analyses, d.Analyses...)
			docs.Warnings = append(docs.Warnings, d.Warnings...)
			if n := d.Notifications; n != nil {
				if docs.Notifications != nil {
					errs.add(n.Pos, "a second Notifications document (the first is at %s): declare every endpoint in one", docs.Notifications.Pos)
				} else {
					docs.Notifications = n
				}
			}
		}
	}
	checkUnique(docs, &errs)
	return docs, errs, unreadable
}

func describeFSError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or folder"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func checkUnique(docs *Documents, errs *Errors) {
	seen := map[string]Metadata{}
	for _, s := range docs.Suites {
		if first, ok := seen[s.Metadata.Name]; ok && s.Metadata.Name != "" {
			errs.add(s.Metadata.Pos, "duplicate suite name %q (first in %s)", s.Metadata.Name, first.Pos)
			continue
		}
		seen[s.Metadata.Name] = s.Metadata
	}
	seen = map[string]Metadata{}
	for _, a := range docs.Analyses {
		if first, ok := seen[a.Metadata.Name]; ok && a.Metadata.Name != "" {
			errs.add(a.Metadata.Pos, "duplicate analysis name %q (first in %s)", a.Metadata.Name, first.Pos)
			continue
		}
		seen[a.Metadata.Name] = a.Metadata
	}
}

// Parse decodes the YAML documents in data, which came from file (used in positions and to
// resolve relative paths). Data holding no document at all (empty, or only comments) is an
// error: a spec that silently does nothing would pass validation and then fail, or worse, pass.
func Parse(file string, data []byte, opts LoadOptions) (*Documents, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	var errs Errors
	docs := &Documents{}
	if len(data) > MaxSpecFileSize {
		errs.add(Position{File: file}, "%s", tooLarge(MaxSpecFileSize))
		return docs, errs.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	found := false
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxError(file, data, err))
			found = true
			break // the YAML parser cannot resume after a syntax error
		}
		if len(n.Content) == 0 || isNull(n.Content[0]) {
			continue
		}
		found = true
		switch doc := parseDocument(file, n.Content[0], opts, &errs, &docs.Warnings).(type) {
		case *Suite:
			docs.Suites = append(docs.Suites, doc)
		case *Analysis:
			docs.Analyses = append(docs.Analyses, doc)
		case *Notifications:
			if docs.Notifications != nil {
				errs.add(doc.Pos, "a second Notifications document (the first is at %s): declare every endpoint in one", docs.Notifications.Pos)
				continue
			}
			docs.Notifications = doc
		}
	}
	if !found {
		errs.add(Position{File: file}, "no documents (empty or only comments)")
	}
	docs.Warnings.sort()
	return docs, errs.err()
}

// docKinds lists the document kinds.
var docKinds = []string{"Suite", "Analysis", "Notifications"}

func parseDocument(file string, root *yaml.Node, opts LoadOptions, errs, warns *Errors) any {
	ctx := newLoadContext(file, opts)
	d := &decoder{file: file, errs: errs, warns: warns, ctx: ctx}
	defer ctx.redactErrors(errs, len(*errs))
	defer ctx.redactErrors(warns, len(*warns))
	if !d.checkAliases(root) {
		return nil
	}
	d.expandEnv(root, opts.LookupEnv)
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "a document must be a mapping with apiVersion, kind and metadata, got %s", describe(root))
		return nil
	}
	kind := mappingValue(root, "kind")
	if kind != nil && kind.Kind == yaml.AliasNode {
		kind = kind.Alias
	}
	switch {
	case kind == nil:
		d.errorf(root, "missing kind (one of %s)", strings.Join(docKinds, ", "))
		return nil
	case kind.Value == "Analysis":
		a := &Analysis{File: file, ctx: ctx}
		a.decodeNode(d, root)
		a.validate(d, root)
		a.applyDefaults()
		return a
	case kind.Value == "Notifications":
		ns := &Notifications{File: file}
		ns.decodeNode(d, root)
		ns.validate(d, root)
		return ns
	case kind.Value != "Suite":
		d.errorf(kind, "unknown kind %q (one of %s)", kind.Value, strings.Join(docKinds, ", "))
		return nil
	}
	s := &Suite{File: file, ctx: ctx}
	if opts.SecretsWhenUsed && !opts.AllowMissingSecrets {
		ctx.missing = &s.MissingSecrets
		defer ctx.redactErrors(&s.MissingSecrets, 0)
	}
	s.decodeNode(d, root)
	s.Vars = ctx.vars
	s.validate(d, root)
	s.applyDefaults()
	return s
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// loadContext is what templates and conditions see while one document loads.
type loadContext struct {
	file       string
	lookup     func(string) (string, bool)
	overrides  map[string]string
	vars       map[string]string
	captures   map[string]bool
	secretRefs map[string]SecretRef
	secrets    map[string]Secret
	envSecrets map[string]Secret
	// found are the secrets the document's text reveals (URL passwords, credential headers).
	found []Secret
	// allowMissingSecrets: see LoadOptions.AllowMissingSecrets.
	allowMissingSecrets bool
	// missing, when set, collects the document's missing secrets (LoadOptions.SecretsWhenUsed).
	missing *Errors
}

func newLoadContext(file string, opts LoadOptions) *loadContext {
	return &loadContext{
		file:       file,
		lookup:     opts.LookupEnv,
		overrides:  opts.Vars,
		vars:       map[string]string{},
		captures:   map[string]bool{},
		secretRefs: map[string]SecretRef{},
		secrets:    map[string]Secret{},
		envSecrets: map[string]Secret{},

		allowMissingSecrets: opts.AllowMissingSecrets,
	}
}

func (c *loadContext) dir() string {
	if c == nil || c.file == "" {
		return ""
	}
	return filepath.Dir(c.file)
}

func (c *loadContext) setVars(vars map[string]string) {
	for k, v := range vars {
		c.vars[k] = v
	}
	for k, v := range c.overrides {
		c.vars[k] = v
	}
}

func (c *loadContext) hasVar(name string) bool {
	_, ok := c.vars[name]
	return ok
}

func (c *loadContext) resolveSecrets(d *decoder, n *yaml.Node) {
	names := make([]string, 0, len(c.secretRefs))
	for name := range c.secretRefs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ref := c.secretRefs[name]
		v, problem, missing := secretRefValue(ref, c.dir(), c.lookup)
		if problem != "" {
			pos := ref.Pos
			if pos.Line == 0 {
				pos = d.pos(n)
			}
			d.secretProblem(pos, missing, "secret %q: %s", name, problem)
			continue
		}
		c.secrets[name] = v
	}
}
