package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A flag value policy set cannot read is bad usage (exit 2), like
// redact --product sms2, and nothing is written.
func TestPolicySetBadUsage(t *testing.T) {
	db := fixtureDB(t, 100)
	before := fileHash(t, db)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown product", []string{"--products", "sms2"}, `no product corresponding to supplied string "sms2"`},
		{"unknown product in retention", []string{"--retention", "sms2=6"}, `no product corresponding to supplied string "sms2"`},
		{"retention without months", []string{"--retention", "sms"}, "--retention wants PRODUCT=MONTHS"},
		{"unknown product in auto-redact", []string{"--auto-redact", "sms2:any:content:6h"}, `no product corresponding to supplied string "sms2"`},
		{"unknown direction in auto-redact", []string{"--auto-redact", "sms:sideways:content:6h"}, "cdradmin policy: "},
		{"bad premature window", []string{"--premature", "soon"}, "--premature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := cli(t, "", append([]string{"--db", db, "policy", "set", "-w", "acme"}, tc.args...)...)
			assert.Equal(t, 2, code, stderr)
			assert.Empty(t, out)
			assert.Contains(t, stderr, tc.want)
		})
	}
	assert.Equal(t, before, fileHash(t, db), "nothing was written")
}
