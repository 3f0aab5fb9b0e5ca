package specs

// redactor returns a redactor for every secret a document's load context knows: declared
// secrets, environment variables read through secret, and what the text itself revealed.
func (c *loadContext) redactor() *Redactor {
	rd := NewRedactor(c.found...)
	for _, v := range c.secrets {
		rd.Add(v)
	}
	for _, v := range c.envSecrets {
		rd.Add(v)
	}
	return rd
}

// redactErrors removes secrets from the errors a document added (from index from on): an
// error quoting a malformed URL or an expanded ${ENV} value must not print a password.
func (c *loadContext) redactErrors(errs *Errors, from int) {
	if len(*errs) <= from {
		return
	}
	rd := c.redactor()
	if rd.Empty() {
		return
	}
	for _, e := range (*errs)[from:] {
		e.Msg = rd.Redact(e.Msg)
	}
}
