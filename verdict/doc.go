// Package verdict turns results into what greenlight hands back to its callers: an exit
// code and reports for people and for CI systems.
//
// It owns its own report model ([Report], [SuiteReport], [StepReport],
// [ConditionReport]) so that it depends on no greenlight package but compare; analysis
// converts smoke results into it. [Verdict] is an analysis's decision: [Aggregate] applies
// worst-wins to the checks' compare outcomes. The renderers are [WriteJSON], [WriteJUnit],
// [WriteMarkdown] and the live terminal [TextWriter].
//
// Everything in a Report arrives already redacted. The renderers therefore print only
// what the model holds and never add request bodies or header values; the model itself
// has no field that could carry them (captures are kept by name, never by value).
//
// The package must not know how a suite is specified or executed, and it does no I/O
// beyond writing to the io.Writer it is given.
package verdict
