package render_test

import (
	"testing"

	"example.com/sequentialjob/test/fixtures"
)

// TestRenderIsPure: render imports no client and no clock, and reads no
// time. That is what makes its output a function of its inputs.
func TestRenderIsPure(t *testing.T) { fixtures.RequirePure(t, "render") }
