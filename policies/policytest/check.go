package policytest

import (
	"fmt"
	"strings"
)

// Check compares what the user saw with what the case expects and returns
// one line per mismatch (none when the case passes).
func Check(c *Case, res *Result) []string {
	var problems []string
	if res.Decision != c.Expect {
		problems = append(problems, fmt.Sprintf("decision: want %s, got %s", c.Expect, res))
		return problems
	}
	if c.Expect == Allow {
		return nil
	}
	if !strings.Contains(res.Message, c.Message) {
		problems = append(problems, fmt.Sprintf("message: want a fragment %q, got %q", c.Message, res.Message))
	}
	if c.Expect == Deny && res.Code != c.Code {
		problems = append(problems, fmt.Sprintf("HTTP status: want %d, got %d", c.Code, res.Code))
	}
	// The policy of the case's directory is the one that speaks.
	if by := fmt.Sprintf("ValidatingAdmissionPolicy '%s'", c.Policy); !strings.Contains(res.Message, by) {
		problems = append(problems, fmt.Sprintf("message: want it from %s, got %q", by, res.Message))
	}
	return problems
}
