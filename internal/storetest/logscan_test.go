package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLogScanFindsNumbersAndBodies(t *testing.T) {
	l := &logScan{secrets: defaultSecrets}
	for _, tc := range []struct {
		line string
		leak bool
	}{
		{`{"time":"2026-11-27T17:11:05.662932001Z","msg":"operation","kind":"erase","affected":3,"duration":"1.234567ms"}`, false},
		{`time=2026-11-27T17:11:05.662+00:00 level=INFO msg=http`, false},
		{`{"msg":"operation","request":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`, false},
		{`{"msg":"http","path":"/v1/contacts/+447XXXXXXXXX"}`, false},
		{`{"msg":"http","path":"/v1/contacts/+447911123456"}`, true},
		{`{"err":"number 447911123456 is not valid"}`, true},
		{`{"err":"body was secret body"}`, true},
	} {
		assert.Equal(t, tc.leak, l.leak(tc.line) != "", tc.line)
	}
}
