package specs

import (
	"gopkg.in/yaml.v3"
)

// Limits on what one YAML document may expand to. Anchors and aliases let a few bytes stand for
// a tree of billions of nodes ("billion laughs") or for a cycle (a: &a [*a]), and every walk over
// a document — ${VAR} expansion, decoding, JSON bodies, conditions — follows aliases. So each
// document is measured once, before any walk, and refused when it exceeds these; after that
// every walk is bounded.
const (
	// MaxAliasNodes is how many nodes all the aliases of a document may stand for together.
	MaxAliasNodes = 100_000
	// MaxNodeDepth is how deeply a document may nest, counting through aliases.
	MaxNodeDepth = 1000
)

// aliasMeasure measures a document with aliases expanded, remembering each node's expanded size
// and height so that the measuring itself never expands anything twice.
type aliasMeasure struct {
	d        *decoder
	size     map[*yaml.Node]int
	height   map[*yaml.Node]int
	active   map[*yaml.Node]bool // nodes on the current path: an alias to one is a cycle
	expanded int
}

// checkAliases reports, at the offending alias or node, a document whose aliases form a cycle,
// expand to more than MaxAliasNodes nodes, or that nests deeper than MaxNodeDepth. It returns
// whether the document may be walked.
func (d *decoder) checkAliases(root *yaml.Node) bool {
	m := &aliasMeasure{d: d, size: map[*yaml.Node]int{}, height: map[*yaml.Node]int{}, active: map[*yaml.Node]bool{}}
	_, _, ok := m.measure(root, 1)
	return ok
}

// measure returns n's expanded size and height; depth is how deep n itself sits.
func (m *aliasMeasure) measure(n *yaml.Node, depth int) (size, height int, ok bool) {
	if depth > MaxNodeDepth {
		m.d.errorf(n, "the document nests deeper than %d levels (counting through aliases)", MaxNodeDepth)
		return 0, 0, false
	}
	if s, done := m.size[n]; done {
		if depth+m.height[n]-1 > MaxNodeDepth {
			m.d.errorf(n, "the document nests deeper than %d levels (counting through aliases)", MaxNodeDepth)
			return 0, 0, false
		}
		return s, m.height[n], true
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			m.d.errorf(n, "alias *%s refers to no anchor", n.Value)
			return 0, 0, false
		}
		if m.active[n.Alias] {
			m.d.errorf(n, "alias *%s refers to itself (its anchor &%s contains it)", n.Value, n.Alias.Anchor)
			return 0, 0, false
		}
		s, h, ok := m.measure(n.Alias, depth)
		if !ok {
			return 0, 0, false
		}
		m.expanded += s
		if m.expanded > MaxAliasNodes {
			m.d.errorf(n, "aliases expand to more than %d nodes", MaxAliasNodes)
			return 0, 0, false
		}
		return s, h, true
	}
	m.active[n] = true
	defer delete(m.active, n)
	size, height = 1, 1
	for _, c := range n.Content {
		s, h, ok := m.measure(c, depth+1)
		if !ok {
			return 0, 0, false
		}
		// Saturate: sizes only need comparing with MaxAliasNodes, and a tree of aliases can
		// stand for more nodes than an int holds.
		size = min(size+s, 2*MaxAliasNodes+1)
		height = max(height, h+1)
	}
	m.size[n], m.height[n] = size, height
	return size, height, true
}
