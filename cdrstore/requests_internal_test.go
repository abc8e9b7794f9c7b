package cdrstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// maskNumbers masks every run that may be a phone number in a stored
// result, keeping the rest (and the length) as it was.
func TestMaskNumbers(t *testing.T) {
	in := []byte(`{"skipped":[{"id":"erase-+2348031234567","reason":"legal hold"}],"affected":1,"price":"+12"}`)
	out := maskNumbers(in)
	assert.NotContains(t, string(out), "2348031234567")
	assert.Contains(t, string(out), `"price":"+12"`, "too short to be a number")
	assert.Contains(t, string(out), `"reason":"legal hold"`)
	assert.Len(t, out, len(in))
}
