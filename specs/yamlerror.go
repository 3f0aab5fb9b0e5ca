package specs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// syntaxError turns a yaml.v3 syntax error into a positioned Error. yaml.v3 reports at most a
// line, with no column, and its line numbers are of two kinds: 1-based for scanner errors,
// 0-based for parser errors (and absent when the 0-based line is 0), while reader errors (bad
// UTF-8, control characters) and unknown anchors carry no position at all. This recovers the
// line from the message's kind and the column from the text of that line.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	e := &Error{Msg: "invalid YAML: " + msg, syntax: true}
	lines := strings.Split(string(data), "\n")
	switch {
	case readerProblems[msg]:
		e.Pos = badTextPos(file, data)
		return e
	case strings.HasPrefix(msg, "unknown anchor '"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		if l, c := findAlias(lines, name); l > 0 {
			e.Pos = Position{File: file, Line: l, Column: c}
			return e
		}
		line = 1
	case parserProblems[msg]:
		line++ // 0-based, and 0 is left out
	case line == 0:
		line = 1
	}
	// An error found at the end of the input names the line after the last: point at the last
	// line with something on it, which is what is unfinished.
	for line > 1 && (line > len(lines) || strings.TrimSpace(lines[line-1]) == "") {
		line--
	}
	if line > len(lines) {
		line = len(lines)
	}
	e.Pos = Position{File: file, Line: line, Column: syntaxColumn(lines[line-1], msg)}
	if parserProblems[msg] && strings.HasPrefix(msg, "did not find expected ','") {
		if l, c, ref, kind := unquotedExpansion(lines, line-1, strings.Contains(msg, "']'")); l > 0 {
			e.Pos = Position{File: file, Line: l, Column: c}
			e.Msg = fmt.Sprintf("invalid YAML: %s in a flow %s must be in a quoted value (\"%s\"): unquoted, YAML reads its { and } as the %s's own", ref, kind, ref, kind)
		}
	}
	return e
}

// unquotedExpansion looks, from the start of line li (0-based) where yaml.v3 saw a flow
// collection go wrong, for the usual cause of its "did not find expected ','": an unquoted
// ${VAR} or ${VAR:-default}, whose braces YAML reads as flow mapping syntax. It returns its
// 1-based position, its text and the kind of the innermost collection holding it (seq: the
// error was about a sequence, for one found before any bracket); line 0 when there is none.
func unquotedExpansion(lines []string, li int, seq bool) (line, column int, ref, kind string) {
	var stack []byte
	for ; li < len(lines); li++ {
		text := lines[li]
		var quote byte
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch {
			case quote != 0:
				if c == '\\' && quote == '"' {
					i++
				} else if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t'):
				i = len(text)
			case c == '$' && i+1 < len(text) && text[i+1] == '{':
				end := strings.IndexByte(text[i:], '}')
				if end < 0 {
					end = len(text) - i - 1
				}
				kind = "mapping"
				if len(stack) > 0 && stack[len(stack)-1] == '[' || len(stack) == 0 && seq {
					kind = "sequence"
				}
				return li + 1, utf8.RuneCountInString(text[:i]) + 1, text[i : i+end+1], kind
			case c == '{' || c == '[':
				stack = append(stack, c)
			case c == '}' || c == ']':
				if len(stack) <= 1 {
					return 0, 0, "", ""
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
	return 0, 0, "", ""
}

var yamlLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its scanner): their line
// numbers are 0-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// readerProblems are yaml.v3's complaints about the bytes themselves; they carry no position.
var readerProblems = map[string]bool{
	"control characters are not allowed": true,
	"invalid leading UTF-8 octet":        true,
	"invalid trailing UTF-8 octet":       true,
	"incomplete UTF-8 octet sequence":    true,
	"invalid length of a UTF-8 sequence": true,
	"invalid Unicode character":          true,
	"incomplete UTF-16 character":        true,
	"incomplete UTF-16 surrogate pair":   true,
	"expected low surrogate area":        true,
	"unexpected low surrogate area":      true,
}

// badTextPos finds the first byte YAML does not allow: invalid UTF-8, or a character outside
// YAML's printable set.
func badTextPos(file string, data []byte) Position {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 || !yamlPrintable(r) {
			return Position{File: file, Line: line, Column: col}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return Position{File: file, Line: line, Column: col}
}

func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd,
		r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// findAlias finds "*name" used as an alias (not inside a longer name).
func findAlias(lines []string, name string) (line, col int) {
	for i, l := range lines {
		for from := 0; ; {
			j := strings.Index(l[from:], "*"+name)
			if j < 0 {
				break
			}
			j += from
			end := j + 1 + len(name)
			if end == len(l) || strings.ContainsRune(" \t,]}#", rune(l[end])) {
				return i + 1, utf8.RuneCountInString(l[:j]) + 1
			}
			from = j + 1
		}
	}
	return 0, 0
}

// syntaxColumn picks the column of the character a message is about, on the line it names:
// the second ':' of "a: b: c", the '[' of an unclosed flow list, the opening quote of an
// unterminated string, the tab or '@' that cannot start a token; else the line's first
// non-blank character.
func syntaxColumn(line, msg string) int {
	at := -1
	switch {
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		colons := mappingColons(line)
		if len(colons) > 1 {
			at = colons[1]
		} else if len(colons) == 1 {
			at = colons[0]
		}
	case strings.Contains(msg, "']'"):
		at = strings.IndexByte(line, '[')
	case strings.Contains(msg, "'}'"):
		at = strings.IndexByte(line, '{')
	case strings.Contains(msg, "tab character"):
		at = strings.IndexByte(line, '\t')
	case msg == "found character that cannot start any token":
		at = strings.IndexAny(line, "@`\t")
	case msg == "found unexpected end of stream":
		at = strings.IndexAny(line, `"'`)
	}
	if at < 0 {
		at = len(line) - len(strings.TrimLeft(line, " \t"))
		if at == len(line) {
			at = 0
		}
	}
	return utf8.RuneCountInString(line[:at]) + 1
}

// mappingColons returns the offsets of ':' that separate a key from a value (followed by a
// blank or the end of the line), outside quotes.
func mappingColons(line string) []int {
	var out []int
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return out
		case c == ':' && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t'):
			out = append(out, i)
		}
	}
	return out
}
