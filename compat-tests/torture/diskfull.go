package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const fullTopic = "torture-full"

// A filesystem larger than this is not the small one the scenario needs: it
// would take long to fill, and filling a real disk hurts everyone on it.
const maxFilesystemBytes = 64 << 20

type diskFullRun struct {
	dir      string
	bin      string
	seed     uint64
	ballastB int64
	start    time.Time

	broker  *broker
	seeds   []string
	adm     *kadm.Client
	ledger  *ledger
	seq     uint64
	rng     func() uint64
	errSeen map[string]int // errors clients saw while the disk was full
	phases  []string
}

func runDiskFull(args []string) error {
	fs := flag.NewFlagSet("diskfull", flag.ExitOnError)
	dir := fs.String("dir", "", "a small, empty, mounted filesystem (e.g. a tmpfs of 8 MiB) for the data dir and the ballast")
	bin := fs.String("bin", "", "strata binary (default: $STRATA_BIN or target/debug/strata)")
	seed := fs.Uint64("seed", 0, "seed for the payloads (0: pick one and print it)")
	ballast := fs.Int64("ballast-bytes", -1, "bytes of ballast written before the broker starts, deleted to free space (-1: half the free space)")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("-dir is required: mount a small filesystem (mount -t tmpfs -o size=8m tmpfs DIR) and pass it")
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(*dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", *dir, err)
	}
	if total := int64(st.Blocks) * st.Bsize; total > maxFilesystemBytes {
		return fmt.Errorf("%s is a %d MiB filesystem; the scenario fills it, so it wants a small one (at most %d MiB), e.g. mount -t tmpfs -o size=8m tmpfs %s",
			*dir, total>>20, maxFilesystemBytes>>20, *dir)
	}
	b, err := strataBin(*bin)
	if err != nil {
		return err
	}
	r := &diskFullRun{dir: *dir, bin: b, seed: *seed, ballastB: *ballast, start: time.Now(), errSeen: map[string]int{}}
	if r.seed == 0 {
		r.seed = uint64(time.Now().UnixNano())
	}
	logf("torture diskfull: seed %d, filesystem %s (%d KiB, %d KiB free), strata %s", r.seed, r.dir, int64(st.Blocks)*st.Bsize>>10, r.free()>>10, r.bin)
	err = r.run()
	if r.broker == nil {
		return err
	}
	if err != nil {
		logf("broker log kept: %s\n%s", r.broker.logPath, tail(r.broker.logPath, 40))
	} else {
		os.RemoveAll(filepath.Dir(r.broker.logPath))
	}
	return err
}

func (r *diskFullRun) free() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(r.dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}

func (r *diskFullRun) phase(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.phases = append(r.phases, msg)
	logf("%s", msg)
}

// writeBallast writes up to n bytes to path (stopping quietly at ENOSPC when
// n < 0, which means "all the space there is").
func writeBallast(path string, n int64) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i*7 + 1)
	}
	var written int64
	for n < 0 || written < n {
		c := chunk
		if n >= 0 && int64(len(c)) > n-written {
			c = c[:n-written]
		}
		w, err := f.Write(c)
		written += int64(w)
		if err != nil {
			if n < 0 && errors.Is(err, syscall.ENOSPC) {
				return written, nil
			}
			return written, err
		}
	}
	return written, f.Sync()
}

func (r *diskFullRun) run() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(r.dir, "data")
	logDir, err := os.MkdirTemp("", "strata-torture-diskfull-")
	if err != nil {
		return err
	}
	// The broker's own log stays off the small filesystem.
	r.broker = newBroker(r.bin, dataDir, port, filepath.Join(logDir, "strata.log"),
		"log.segment.bytes=524288", "auto.create.topics.enable=false")
	defer r.broker.kill()
	ballast := filepath.Join(r.dir, "ballast")
	if r.ballastB < 0 {
		// Half the filesystem: the rest fills with records.
		r.ballastB = r.free() / 2
	}
	if _, err := writeBallast(ballast, r.ballastB); err != nil {
		return fmt.Errorf("writing the ballast: %w", err)
	}
	if err := r.broker.start(60 * time.Second); err != nil {
		return err
	}
	r.seeds = []string{r.broker.addr()}
	admCl, err := kgo.NewClient(clientOpts(r.seeds, kgo.RequestTimeoutOverhead(10*time.Second))...)
	if err != nil {
		return err
	}
	defer admCl.Close()
	r.adm = kadm.NewClient(admCl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := r.adm.CreateTopic(ctx, 3, 1, nil, fullTopic); err != nil {
		return fmt.Errorf("creating %s: %w", fullTopic, err)
	}
	r.ledger = newLedger(1, fullTopic)

	cl, err := r.newProducer()
	if err != nil {
		return err
	}
	defer func() { cl.Close() }()
	// 1. Fill the disk until the broker refuses; it stays up and serves reads.
	acked, refused, err := r.produceUntilRefused(ctx, cl, 90*time.Second)
	if err != nil {
		return err
	}
	r.phase("1. filled the disk: %d records acknowledged, then %d refused; %d KiB free; the broker stays up", acked, refused, r.free()>>10)
	if !r.broker.alive() {
		return errors.New("the broker exited when the disk filled up")
	}
	if !r.sawStorageError() {
		return fmt.Errorf("no produce failed with KAFKA_STORAGE_ERROR while the disk was full (errors: %s)", topErrors(r.errSeen, 4))
	}
	if err := r.verify(ctx, "while the disk is full"); err != nil {
		return err
	}

	// 2. Free space: the broker takes writes again, without a restart.
	if err := os.Remove(ballast); err != nil {
		return err
	}
	n, err := r.produceUntilAcked(ctx, cl, 10, 60*time.Second)
	if err != nil {
		return fmt.Errorf("after freeing %d KiB: %w", r.ballastB>>10, err)
	}
	r.phase("2. freed %d KiB: produce works again without a restart (%d more records acknowledged)", r.ballastB>>10, n)
	if err := r.verify(ctx, "after space came back"); err != nil {
		return err
	}

	// 3. Full again; free the space and stop cleanly before anything else
	// is written: a clean start must not count what the disk refused.
	got, err := writeBallast(ballast, -1)
	if err != nil {
		return fmt.Errorf("filling the disk again: %w", err)
	}
	if acked, refused, err = r.produceUntilRefused(ctx, cl, 60*time.Second); err != nil {
		return err
	}
	cl.Close()
	if err := os.Remove(ballast); err != nil {
		return err
	}
	if err := r.broker.stop(30 * time.Second); err != nil {
		return fmt.Errorf("SIGTERM after the disk-full episode: %w", err)
	}
	if err := r.broker.start(60 * time.Second); err != nil {
		return fmt.Errorf("restart after a clean shutdown: %w", err)
	}
	if err := r.verify(ctx, "after a clean restart"); err != nil {
		return err
	}
	if cl, err = r.newProducer(); err != nil {
		return err
	}
	if n, err = r.produceUntilAcked(ctx, cl, 5, 60*time.Second); err != nil {
		return fmt.Errorf("after the clean restart: %w", err)
	}
	if err := r.verify(ctx, "after producing past the clean restart"); err != nil {
		return err
	}
	r.phase("3. %d KiB of ballast: %d acknowledged, then %d refused; freed; SIGTERM, clean exit, restart: all there; %d more acknowledged", got>>10, acked, refused, n)

	// 4. Full again, kill -9 while full; free the space and restart.
	if got, err = writeBallast(ballast, -1); err != nil {
		return fmt.Errorf("filling the disk again: %w", err)
	}
	if acked, refused, err = r.produceUntilRefused(ctx, cl, 60*time.Second); err != nil {
		return err
	}
	cl.Close()
	r.broker.kill()
	if err := os.Remove(ballast); err != nil {
		return err
	}
	if err := r.broker.start(60 * time.Second); err != nil {
		return fmt.Errorf("restart after kill -9 on a full disk: %w", err)
	}
	if err := r.verify(ctx, "after kill -9 on a full disk and a restart"); err != nil {
		return err
	}
	if cl, err = r.newProducer(); err != nil {
		return err
	}
	if n, err = r.produceUntilAcked(ctx, cl, 5, 60*time.Second); err != nil {
		return fmt.Errorf("after the kill -9 on a full disk: %w", err)
	}
	if err := r.verify(ctx, "at the end"); err != nil {
		return err
	}
	r.phase("4. %d KiB of ballast: %d acknowledged, then %d refused; kill -9; freed; restart: all there; %d more acknowledged", got>>10, acked, refused, n)

	c := r.ledger.counts()
	fmt.Println()
	fmt.Println("==== torture diskfull summary ====")
	fmt.Printf("seed                 %d\n", r.seed)
	for _, p := range r.phases {
		fmt.Printf("  %s\n", p)
	}
	fmt.Printf("records sent         %d: acknowledged %d, refused %d, unanswered %d\n", c.sent, c.acked, c.failed, c.pending)
	fmt.Printf("lost                 0 (checked after every step)\n")
	fmt.Printf("duplicated           0\n")
	fmt.Printf("errors clients saw   %s\n", topErrors(r.errSeen, 6))
	fmt.Printf("time                 %s\n", time.Since(r.start).Round(time.Second))
	fmt.Println("RESULT               PASS")
	return nil
}

func (r *diskFullRun) newProducer() (*kgo.Client, error) {
	return kgo.NewClient(clientOpts(r.seeds,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(10*time.Second),
		// A refused record fails after a few tries, so the client sees why.
		kgo.RecordRetries(2),
		kgo.RecordDeliveryTimeout(20*time.Second),
	)...)
}

// produceBatch sends 16 records of about 4 KiB round robin over the
// partitions and waits for every answer; it returns how many were acked.
func (r *diskFullRun) produceBatch(ctx context.Context, cl *kgo.Client) (int, []error) {
	rng := seededRand(r.seed, 1000+r.seq)
	var recs []*kgo.Record
	seqOf := map[*kgo.Record]uint64{}
	for i := 0; i < 16; i++ {
		value := makeValue(0, r.seq, rng, 3500, 4500)
		partition := int32(r.seq % 3)
		r.ledger.add(0, 0, partition, value)
		rec := &kgo.Record{Topic: fullTopic, Partition: partition, Value: value}
		recs = append(recs, rec)
		seqOf[rec] = r.seq
		r.seq++
	}
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	results := cl.ProduceSync(pctx, recs...)
	ok := 0
	var errs []error
	// Results come in the order the answers arrived.
	for _, res := range results {
		r.ledger.resolve(0, seqOf[res.Record], res.Record, res.Err)
		if res.Err == nil {
			ok++
		} else {
			errs = append(errs, res.Err)
		}
	}
	return ok, errs
}

func (r *diskFullRun) produceUntilRefused(ctx context.Context, cl *kgo.Client, limit time.Duration) (acked, refused int, err error) {
	deadline := time.Now().Add(limit)
	streak := 0
	for streak < 3 {
		if time.Now().After(deadline) {
			return acked, refused, fmt.Errorf("the broker still took writes after %s with %d KiB free: the disk never filled", limit, r.free()>>10)
		}
		ok, errs := r.produceBatch(ctx, cl)
		acked += ok
		refused += len(errs)
		for _, e := range errs {
			r.errSeen[describe(e)]++
		}
		if ok == 0 {
			streak++
		} else {
			streak = 0
		}
	}
	return acked, refused, nil
}

func (r *diskFullRun) produceUntilAcked(ctx context.Context, cl *kgo.Client, batches int, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	acked, good := 0, 0
	var last []error
	for good < batches {
		if time.Now().After(deadline) {
			return acked, fmt.Errorf("only %d of %d batches were acknowledged within %s (last errors: %v)", good, batches, limit, last)
		}
		ok, errs := r.produceBatch(ctx, cl)
		acked += ok
		if len(errs) == 0 {
			good++
		} else {
			last = errs
			time.Sleep(200 * time.Millisecond)
		}
	}
	return acked, nil
}

func (r *diskFullRun) sawStorageError() bool {
	for k := range r.errSeen {
		if k == kerr.KafkaStorageError.Message {
			return true
		}
	}
	return false
}

// describe names a produce error by its Kafka error code when it has one.
func describe(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}

// verify reads the topic back: every acknowledged record exactly once, at
// its offset, byte for byte; nothing else but records that were sent.
func (r *diskFullRun) verify(ctx context.Context, when string) error {
	vctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	data, start, end, err := readAll(vctx, r.seeds, r.adm, fullTopic)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", when, err)
	}
	v := r.ledger.check(fullTopic, data, start, end)
	logf("check %s: %s", when, v)
	if v.bad() || v.belowStart > 0 {
		for _, e := range v.examples {
			logf("  %s", e)
		}
		return fmt.Errorf("read-back %s: %d lost, %d duplicated, %d corrupt, %d phantom, %d moved, %d gaps", when, v.lost, v.duplicated, v.corrupt, v.phantom, v.moved, v.gaps)
	}
	return nil
}
