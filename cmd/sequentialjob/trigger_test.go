package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

func TestManualRunName(t *testing.T) {
	for _, tc := range []struct{ name, reason, cron, want string }{
		{name: "short", reason: "the cron's name as it is", cron: "nightly", want: "nightly-manual-abcde"},
		{name: "longest-cron", reason: "a 51-character cron name is cut to fit 60", cron: strings.Repeat("a", v1alpha1.MaxCronNameLength),
			want: strings.Repeat("a", 47) + "-manual-abcde"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := manualRunName(tc.cron, "abcde")
			assert.Equal(t, tc.want, got, tc.reason)
			assert.LessOrEqual(t, len(got), v1alpha1.MaxNameLength, tc.reason)
		})
	}
}
