package storetest

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
)

// The log scan: every line logged by a store that Open creates with nil
// options (and by whatever else a suite points at LogWriter) is checked,
// as it is written, for a phone number or a message body in clear. Main
// fails the run when any line had one. This is how the suites that run
// erasures prove that no log line carries personal data.

var (
	hexWord  = regexp.MustCompile(`[0-9a-fA-F]{16,}`) // HMACs, hashes, trace IDs
	stamp    = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})`)
	plusNum  = regexp.MustCompile(`\+[0-9]{6,}`) // an E.164 number in clear
	digitRun = regexp.MustCompile(`[0-9]{9,}`)   // a national or international number without its +
)

// defaultSecrets are the message bodies and transcripts of the suites'
// fixtures; Main adds the ones a suite passes.
var defaultSecrets = []string{"secret body", "photo of my passport", "hi it's Ada", "call me back", "other tenant"}

// logScan is the writer behind LogWriter.
type logScan struct {
	mu      sync.Mutex
	secrets []string
	bad     []string // lines that held personal data (at most 20)
	lines   int
}

var scan = &logScan{secrets: defaultSecrets}

// LogWriter returns the writer whose every line the log scan checks; a
// slog handler writes one line per call.
func LogWriter() io.Writer { return scan }

// Logger returns a JSON logger, at debug level, writing to LogWriter.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(scan, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logScan) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines++
		if why := l.leak(line); why != "" && len(l.bad) < 20 {
			l.bad = append(l.bad, why+": "+line)
		}
	}
	return len(p), nil
}

// leak says what personal data line holds, or "".
func (l *logScan) leak(line string) string {
	for _, s := range l.secrets {
		if strings.Contains(line, s) {
			return fmt.Sprintf("body %q", s)
		}
	}
	rest := hexWord.ReplaceAllString(stamp.ReplaceAllString(line, ""), "")
	if m := plusNum.FindString(rest); m != "" {
		return "number " + m
	}
	if m := digitRun.FindString(rest); m != "" {
		return "digits " + m
	}
	return ""
}

// report returns the lines that leaked, and how many were scanned.
func (l *logScan) report() (bad []string, lines int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...), l.lines
}

// mainCode runs the suite and fails it when the log scan found a leak.
func mainCode(run func() int, secrets []string) int {
	scan.mu.Lock()
	scan.secrets = append(scan.secrets, secrets...)
	scan.mu.Unlock()
	code := run()
	if bad, lines := scan.report(); len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "storetest: %d of %d log lines hold personal data:\n  %s\n", len(bad), lines, strings.Join(bad, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}
