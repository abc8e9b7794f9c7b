package redaction

import (
	"strings"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// productAliases maps lowercased spellings to products: the Redact API's
// own names and the enum spellings of the Vonage Node SDK (SMS, Voice,
// NumberInsight, Verify, VerifySDK, Messages), lowercased.
var productAliases = map[string]cdrstore.Product{
	"sms":            cdrstore.ProductSMS,
	"voice":          cdrstore.ProductVoice,
	"number-insight": cdrstore.ProductNumberInsight,
	"numberinsight":  cdrstore.ProductNumberInsight,
	"number_insight": cdrstore.ProductNumberInsight,
	"verify":         cdrstore.ProductVerify,
	"verify-sdk":     cdrstore.ProductVerifySDK,
	"verifysdk":      cdrstore.ProductVerifySDK,
	"verify_sdk":     cdrstore.ProductVerifySDK,
	"messages":       cdrstore.ProductMessages,
}

// ParseProduct reads a product name case-insensitively, in the Redact
// API's spelling ("number-insight") or the Node SDK's ("NumberInsight").
// Anything else is a *ProductError.
func ParseProduct(s string) (cdrstore.Product, error) {
	if p, ok := productAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p, nil
	}
	return "", productError(s)
}

// ParseDirection reads a direction (the Redact API's "type")
// case-insensitively. The empty string means outbound, the API's default.
func ParseDirection(s string) (cdrstore.Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "outbound":
		return cdrstore.Outbound, nil
	case "inbound":
		return cdrstore.Inbound, nil
	}
	return "", ErrInvalidDirection
}
