package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"html"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Redactor replaces every known secret value in text with "<secret>". Every path from a spec to
// a human or a machine-readable output passes through one.
//
// A secret rarely travels as written: a server echoes it back percent-encoded, JSON-escaped
// (once, or twice when a JSON body is quoted inside JSON), HTML- or XML-escaped, in base64 (an
// Authorization: Basic header), line by line (a PEM key). The redactor knows each of these forms
// and replaces all of them in one pass of a single strings.Replacer, built once after the last
// Add and shared by every caller.
type Redactor struct {
	mu     sync.Mutex
	values []string
	r      atomic.Pointer[strings.Replacer]
}

// MinLength is the shortest value a redactor replaces. Blanking every "1" or "ab" would mangle
// ports, status codes and words everywhere while hiding nothing a reader could not guess, so
// the spec loader refuses a declared secret shorter than this (see specs), and a shorter
// credential only written in a URL or a header is left as it is.
const MinLength = 4

// NewRedactor builds a redactor for the given secrets; values under MinLength are ignored.
func NewRedactor(secrets ...Secret) *Redactor {
	rd := &Redactor{}
	rd.Add(secrets...)
	return rd
}

// Add registers more secrets. The replacer is rebuilt lazily, at the next Redact.
func (rd *Redactor) Add(secrets ...Secret) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	seen := make(map[string]bool, len(rd.values))
	for _, v := range rd.values {
		seen[v] = true
	}
	added := false
	for _, s := range secrets {
		v := string(s)
		if len(v) < MinLength || seen[v] {
			continue
		}
		seen[v] = true
		rd.values = append(rd.values, v)
		added = true
	}
	if added {
		rd.r.Store(nil)
	}
}

// Redact returns s with every secret, in every form the redactor knows, replaced.
func (rd *Redactor) Redact(s string) string {
	if rd == nil || s == "" {
		return s
	}
	r := rd.r.Load()
	if r == nil {
		r = rd.build()
	}
	return r.Replace(s)
}

// build makes the replacer for the current secrets, once per change.
func (rd *Redactor) build() *strings.Replacer {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if r := rd.r.Load(); r != nil {
		return r
	}
	seen := map[string]bool{}
	var patterns []string
	for _, v := range rd.values {
		for _, f := range secretForms(v) {
			if f != "" && !seen[f] {
				seen[f] = true
				patterns = append(patterns, f)
			}
		}
	}
	// Longest first: strings.Replacer prefers earlier pairs among matches at one position, so a
	// secret (or a form) containing another is replaced whole.
	sort.Slice(patterns, func(i, j int) bool {
		if len(patterns[i]) != len(patterns[j]) {
			return len(patterns[i]) > len(patterns[j])
		}
		return patterns[i] < patterns[j]
	})
	pairs := make([]string, 0, 2*len(patterns))
	for _, p := range patterns {
		pairs = append(pairs, p, redacted)
	}
	r := strings.NewReplacer(pairs...)
	rd.r.Store(r)
	return r
}

// Empty reports whether there is nothing to redact.
func (rd *Redactor) Empty() bool {
	if rd == nil {
		return true
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return len(rd.values) == 0
}

// Secrets returns the secrets the redactor knows, for merging redactors.
func (rd *Redactor) Secrets() []Secret {
	if rd == nil {
		return nil
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	out := make([]Secret, len(rd.values))
	for i, v := range rd.values {
		out[i] = Secret(v)
	}
	return out
}

// minLineSecret is the shortest line of a multi-line secret redacted on its own: a PEM key's
// lines are 64 characters, while "-----" or a blank line must not blank out unrelated text.
const minLineSecret = 8

// secretForms lists the ways v can appear in text: as is, its lines, its base64, and each of
// those escaped for URLs, JSON (once and twice), Go strings, and HTML/XML.
func secretForms(v string) []string {
	whole := []string{v}
	var lines []string
	if strings.ContainsAny(v, "\r\n") {
		lf := strings.ReplaceAll(v, "\r\n", "\n")
		whole = append(whole, lf, strings.ReplaceAll(lf, "\n", "\r\n"))
		for _, line := range strings.Split(lf, "\n") {
			for _, l := range []string{strings.TrimSuffix(line, "\r"), strings.TrimSpace(line)} {
				if len(l) >= minLineSecret {
					lines = append(lines, l)
				}
			}
		}
	}
	plain := append(whole, lines...)
	bases := append([]string(nil), plain...)
	// A server echoing an Authorization: Basic header shows base64 of user:password; any
	// secret may be base64-encoded on its way (a token in a cookie, a key in a config dump).
	for _, w := range plain {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			bases = append(bases, enc.EncodeToString([]byte(w)))
		}
	}
	var out []string
	for _, b := range bases {
		out = append(out, textForms(b)...)
	}
	return out
}

// textForms lists b as written and escaped by the encoders a report or a server may apply.
func textForms(b string) []string {
	out := []string{b}
	// URLs: query (space as +) and path escaping, and lower-case hex (%2f) as some clients write.
	for _, e := range []string{url.QueryEscape(b), url.PathEscape(b), (&url.URL{Path: b}).EscapedPath()} {
		out = append(out, e, lowerPercent(e))
	}
	// JSON: without and with HTML escaping (Go's default writes <, >, & as \u003c …), with
	// non-ASCII as \uXXXX, optionally with / as \/; and each of those quoted again inside JSON.
	var js []string
	for _, j := range []string{jsonString(b, false), jsonString(b, true), jsonASCII(b), jsonDotNet(b)} {
		js = append(js, j, strings.ReplaceAll(j, "/", `\/`))
	}
	for _, j := range js {
		out = append(out, j, jsonString(j, false), jsonString(j, true))
	}
	q := strconv.Quote(b)
	out = append(out, q[1:len(q)-1])
	// HTML and XML, for the plain, JSON and Go-quoted forms (a JSON body inside JUnit XML).
	n := len(out)
	for _, t := range out[:n] {
		if strings.ContainsAny(t, `<>&'"`+"\t\n\r") {
			out = append(out, htmlForms(t)...)
		}
	}
	return out
}

// jsonString returns s escaped as the inside of a JSON string.
func jsonString(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(buf.String(), "\n")
	return out[1 : len(out)-1]
}

// jsonASCII is the JSON form of encoders that keep output ASCII (Python's default): every
// non-ASCII character as \uXXXX, with surrogate pairs beyond the basic plane.
func jsonASCII(s string) string {
	j := jsonString(s, true)
	if !strings.ContainsFunc(j, func(r rune) bool { return r >= utf8.RuneSelf }) {
		return j
	}
	var b strings.Builder
	for _, r := range j {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			b.WriteString(`\u` + hex4(0xD800+(r>>10)) + `\u` + hex4(0xDC00+(r&0x3FF)))
		default:
			b.WriteString(`\u` + hex4(r))
		}
	}
	return b.String()
}

// jsonDotNet is the JSON form of encoders that escape every HTML-sensitive character and all
// non-ASCII as \uXXXX in upper-case hex (.NET's System.Text.Json): < > & ' " + ` and é.
func jsonDotNet(s string) string {
	j := jsonString(s, false)
	if !strings.ContainsFunc(j, func(r rune) bool { return r >= utf8.RuneSelf || strings.ContainsRune("<>&'+`", r) }) &&
		!strings.Contains(j, `\"`) {
		return j
	}
	var b strings.Builder
	esc := func(r rune) { b.WriteString(`\u` + strings.ToUpper(hex4(r))) }
	for i := 0; i < len(j); {
		r, size := utf8.DecodeRuneInString(j[i:])
		switch {
		case strings.HasPrefix(j[i:], `\"`):
			esc('"')
			size = 2
		case strings.HasPrefix(j[i:], `\\`), strings.HasPrefix(j[i:], `\u`):
			// An escape already: copy its backslash and the next byte as they are.
			b.WriteString(j[i : i+2])
			size = 2
		case strings.ContainsRune("<>&'+`", r):
			esc(r)
		case r > 0xFFFF:
			r -= 0x10000
			esc(0xD800 + (r >> 10))
			esc(0xDC00 + (r & 0x3FF))
		case r >= utf8.RuneSelf:
			esc(r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func hex4(r rune) string {
	s := strconv.FormatInt(int64(r), 16)
	return strings.Repeat("0", 4-len(s)) + s
}

// htmlForms lists t escaped for HTML and XML by the usual encoders: html.EscapeString
// (&#34; &#39;), the named entities (&quot; &apos;), and encoding/xml (which also writes
// tabs and line breaks as &#x9; &#xA; &#xD;).
func htmlForms(t string) []string {
	h := html.EscapeString(t)
	var x bytes.Buffer
	_ = xml.EscapeText(&x, []byte(t))
	named := strings.NewReplacer("&#34;", "&quot;", "&#39;", "&apos;")
	quot := strings.NewReplacer("&#34;", "&quot;")
	return []string{h, named.Replace(h), quot.Replace(h), x.String(), named.Replace(x.String())}
}

var percentHex = regexp.MustCompile(`%[0-9A-F]{2}`)

func lowerPercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return percentHex.ReplaceAllStringFunc(s, strings.ToLower)
}
