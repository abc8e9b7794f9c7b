package e164_test

import (
	"testing"

	"github.com/cdrvault/cdrvault/e164"
	"github.com/stretchr/testify/require"
)

// parseSeeds are realistic inputs, good and bad, for the fuzz targets.
var parseSeeds = []string{
	"+2348031234567", "0803 123 4567", "+234 (0) 803 123 4567", "234 803 123 4567",
	"+44 7400 123456", "07400 123456", "+44 (0)7400 123456", "+44 7700 900123", "00 44 7400 123456",
	"(415) 555-2671", "+1 415-555-2671", "415.555.2671", "011 44 7400 123456", "+1 200 555 0100", "+1 555 0100",
	"01512 3456789", "+49 30 123456", "+91 98123 45678", "(11) 96123-4567", "090-1234-5678",
	"071 123 4567", "0712 123456", "06 12 34 56 78", "+33 0 12 34 56 78", "+39 06 1234 5678",
	"+800 1234 5678", "+683 4001", "+65 9123 45678", "+999 123", "+7 912 345-67-89",
	"", " ", "+", "++1", "+0", "+00", "0", "00", "000", "+2348", "+23480312345678901234",
	"tel:+1-415-555-2671", "+1 415 555 2671 ext. 9", "*123#", "1-800-FLOWERS", "+２３４８０３１２３４５６７",
	"\u00a0+234\u00a0803\u00a0123\u00a04567", "+234-803-123-4567-", "((0803))", "+(234)803.123.4567",
}

var parseRegions = []string{"", "NG", "US", "GB", "DE", "JP", "ng", "ZZ", "001"}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		for _, r := range parseRegions {
			f.Add(s, r)
		}
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		n, err := e164.Parse(raw, region)
		if err != nil {
			require.ErrorIs(t, err, e164.ErrInvalidNumber)
			var ne *e164.NumberError
			require.ErrorAs(t, err, &ne)
			require.Equal(t, e164.Mask(raw), ne.Masked)
			require.False(t, fourDigits.MatchString(err.Error()), "digits in %q", err.Error())
			require.False(t, n.IsValid())
			return
		}
		require.True(t, n.IsValid())
		again, err := e164.Parse(n.String(), "")
		require.NoError(t, err, "%s from %q in %q", n.Masked(), raw, region)
		require.Equal(t, n, again)
		c, err := e164.ParseCanonical(n.String())
		require.NoError(t, err)
		require.Equal(t, n, c)
		require.NotZero(t, n.CountryCode())
		require.Len(t, n.Obfuscate(), len(n.String()))
		require.False(t, fourDigits.MatchString(n.Masked()))
	})
}

func FuzzParseCanonical(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	for _, s := range []string{"+1234567", "+123456789012345", "+1234567890123456", "+0123456789", "+999123456789", "+234803123\x004567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := e164.ParseCanonical(s)
		if err != nil {
			require.ErrorIs(t, err, e164.ErrInvalidNumber)
			require.False(t, fourDigits.MatchString(err.Error()), "digits in %q", err.Error())
			return
		}
		require.Equal(t, s, n.String())
		again, err := e164.ParseCanonical(string(n.AppendTo(nil)))
		require.NoError(t, err)
		require.Equal(t, n, again)
		require.Len(t, n.Obfuscate(), len(s))
		require.False(t, fourDigits.MatchString(n.Masked()))
		_ = n.CountryCode()
		if r := n.Region(); r != "" {
			require.Len(t, r, 2)
		}
		// Parse may read the same text as another number of the same
		// country: it drops a trunk prefix written after the country code
		// ("+490201000" is "+49201000") and applies national rewriting
		// rules ("+67200000" is "+672300000"). Stored text is therefore
		// read with ParseCanonical, never Parse.
		if p, err := e164.Parse(s, ""); err == nil {
			require.Equal(t, n.CountryCode(), p.CountryCode())
		}
	})
}
