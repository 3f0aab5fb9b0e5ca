package slack

import (
	"strings"
	"unicode/utf8"
)

// Slack's limits on a message (Block Kit reference).
const (
	MaxBlocks = 50
	MaxHeader = 150  // header block text
	MaxText   = 3000 // section text, context element text
	MaxFields = 10   // fields per section
	MaxField  = 2000 // one field's text
	MaxButton = 75   // button label
	MaxURL    = 3000 // button url

	maxFallback = 3000 // the notification text: Slack accepts more but shows less
	ellipsis    = "…"
	maxEntity   = len("&amp;")
)

// Message is an incoming webhook's body.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is one Block Kit layout block: header, section, context, divider or actions.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []any  `json:"elements,omitempty"` // Text in a context block, Button in actions
}

// Text is a text object.
type Text struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// Button is a link button (no interactivity endpoint needed).
type Button struct {
	Type     string `json:"type"` // button
	Text     Text   `json:"text"`
	URL      string `json:"url"`
	ActionID string `json:"action_id"`
	Style    string `json:"style,omitempty"`
}

func plain(s string, limit int) *Text {
	return &Text{Type: "plain_text", Text: fit(s, limit), Emoji: true}
}

func mrkdwn(s string, limit int) Text { return Text{Type: "mrkdwn", Text: fit(s, limit)} }

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// esc escapes a user-controlled text for Slack: &, < and > are its markup (<!channel>,
// <url|label>), so they travel as entities.
func esc(s string) string { return escaper.Replace(s) }

// fit cuts an escaped text to limit characters, ending it with an ellipsis, without splitting
// a character or an entity.
func fit(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	head, n := s, 0
	for i := range s {
		if n == limit-1 {
			head = s[:i]
			break
		}
		n++
	}
	if amp := strings.LastIndexByte(head, '&'); amp >= 0 && len(head)-amp < maxEntity && !strings.Contains(head[amp:], ";") {
		head = head[:amp]
	}
	return head + ellipsis
}
