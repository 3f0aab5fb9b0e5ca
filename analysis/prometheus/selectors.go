package prometheus

import "strings"

// selectors returns the series selectors in a PromQL expression — `name{…}`, `{…}` or a bare
// metric name — as written, in order and without repeats, so that an empty result can say
// which of them matches no series. It is a scanner, not a parser: it skips strings, range and
// subquery brackets, function and aggregation names and the label lists of by, without, on,
// ignoring and group_left/right, which is enough for the queries a check holds. It reads at
// most the first 64 selectors.
func selectors(q string) []string {
	const most = 64
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] && len(out) < most {
			seen[s] = true
			out = append(out, s)
		}
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(q, i)
		case c == '[':
			i = skipTo(q, i, ']')
		case c == '{':
			end := skipTo(q, i, '}')
			add(q[i:end])
			i = end
		case isIdentStart(c):
			start := i
			for i < len(q) && isIdentChar(q[i]) {
				i++
			}
			name := q[start:i]
			j := i
			for j < len(q) && (q[j] == ' ' || q[j] == '\t' || q[j] == '\n' || q[j] == '\r') {
				j++
			}
			switch {
			case labelListKeywords[strings.ToLower(name)]:
				if j < len(q) && q[j] == '(' {
					i = skipTo(q, j, ')')
				}
			case notSelectors[strings.ToLower(name)]:
			case j < len(q) && q[j] == '(', aggregationModifier(q[j:]):
				// a function or an aggregation (sum by (le) (…))
			case j < len(q) && q[j] == '{':
				end := skipTo(q, j, '}')
				add(name + q[j:end])
				i = end
			default:
				add(name)
			}
		case c >= '0' && c <= '9' || c == '.':
			// a number or a duration (5m, 1e3, 0x1f): not a selector
			for i < len(q) && (isIdentChar(q[i]) || q[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	return out
}

var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var notSelectors = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true}

// aggregationModifier reports whether rest starts with by or without and a label list.
func aggregationModifier(rest string) bool {
	for _, kw := range []string{"by", "without"} {
		if len(rest) > len(kw) && strings.EqualFold(rest[:len(kw)], kw) && !isIdentChar(rest[len(kw)]) {
			return strings.HasPrefix(strings.TrimLeft(rest[len(kw):], " \t\r\n"), "(")
		}
	}
	return false
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// skipString returns the index after the string literal that starts at i; backslash escapes
// count inside '…' and "…", not inside `…`.
func skipString(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch {
		case q[j] == '\\' && quote != '`':
			j++
		case q[j] == quote:
			return j + 1
		}
	}
	return len(q)
}

// skipTo returns the index after the closing byte that matches the opening one at i, skipping
// strings inside (a label value may hold a brace).
func skipTo(q string, i int, closing byte) int {
	for j := i + 1; j < len(q); {
		switch q[j] {
		case '"', '\'', '`':
			j = skipString(q, j)
		case closing:
			return j + 1
		default:
			j++
		}
	}
	return len(q)
}
