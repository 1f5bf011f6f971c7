// Command torture kills a real strata broker again and again under real
// Kafka clients (franz-go) and checks that nothing acknowledged is lost or
// duplicated; see README.md.
//
//	torture crash    [flags]   kill -9 during produce, segment roll, retention, offset commits
//	torture diskfull [flags]   fill a small filesystem under the broker, free it, go on
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	killAllOnSignal()
	var err error
	switch os.Args[1] {
	case "crash":
		err = runCrash(os.Args[2:])
	case "diskfull":
		err = runDiskFull(os.Args[2:])
	default:
		usage()
	}
	killAll()
	if err != nil {
		fmt.Fprintf(os.Stderr, "torture %s: FAILED: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: torture crash|diskfull [flags]   (torture crash -h for the flags)")
	os.Exit(2)
}

// logf prints a timestamped progress line.
func logf(format string, args ...any) {
	fmt.Printf("%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// clientOpts are the options every franz-go client here starts from.
// KGO_LOG=debug|info|warn|error logs what the clients do to stderr.
func clientOpts(seeds []string, opts ...kgo.Opt) []kgo.Opt {
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(time.Second),
		kgo.MetadataMinAge(250 * time.Millisecond),
		// The broker comes back within a second or two: retry fast.
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			d := time.Duration(50*tries) * time.Millisecond
			return min(d, 500*time.Millisecond)
		}),
	}
	if lvl, ok := map[string]kgo.LogLevel{
		"error": kgo.LogLevelError, "warn": kgo.LogLevelWarn, "info": kgo.LogLevelInfo, "debug": kgo.LogLevelDebug,
	}[os.Getenv("KGO_LOG")]; ok {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, lvl, nil)))
	}
	return append(base, opts...)
}

// seededRand derives an independent generator for one purpose from the seed.
func seededRand(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15+1))
}

// strataBin is STRATA_BIN or target/debug/strata at the repository root.
func strataBin(flagValue string) (string, error) {
	bin := flagValue
	if bin == "" {
		bin = os.Getenv("STRATA_BIN")
	}
	if bin == "" {
		wd, _ := os.Getwd()
		// compat-tests/torture -> repository root
		root := wd
		if i := strings.LastIndex(wd, "/compat-tests/torture"); i >= 0 {
			root = wd[:i]
		}
		bin = root + "/target/debug/strata"
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return "", fmt.Errorf("no strata binary at %s: build it with `cargo build -p strata-server` or set STRATA_BIN", bin)
	}
	return bin, nil
}
