package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	mainTopic      = "torture"
	retentionTopic = "torture-retention"
	groupID        = "torture-group"
)

type crashConfig struct {
	cycles          int
	cycleDuration   time.Duration
	seed            uint64
	bin             string
	workDir         string
	keep            bool
	producers       int
	partitions      int
	retPartitions   int
	rate            int
	minFill         int
	maxFill         int
	segmentBytes    int
	retSegmentBytes int
	retBytes        int
	retMs           int
}

func runCrash(args []string) error {
	var c crashConfig
	fs := flag.NewFlagSet("crash", flag.ExitOnError)
	fs.IntVar(&c.cycles, "cycles", 10, "kill -9 / restart cycles")
	fs.DurationVar(&c.cycleDuration, "cycle-duration", 8*time.Second, "longest time the broker runs in a cycle before it is killed")
	seed := fs.Uint64("seed", 0, "seed for payloads, kill moments and kill targets (0: pick one and print it)")
	fs.StringVar(&c.bin, "bin", "", "strata binary (default: $STRATA_BIN or target/debug/strata)")
	fs.StringVar(&c.workDir, "work-dir", "", "directory for the data dir and broker log (default: a new temporary one)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work dir even when the run passes")
	fs.IntVar(&c.producers, "producers", 2, "idempotent producers (each writes to every partition)")
	fs.IntVar(&c.partitions, "partitions", 6, "partitions of the main topic")
	fs.IntVar(&c.retPartitions, "retention-partitions", 2, "partitions of the retention topic")
	fs.IntVar(&c.rate, "rate", 800, "records per second per producer (a quarter go to the retention topic)")
	fs.IntVar(&c.minFill, "min-value", 64, "smallest random filler per record, bytes")
	fs.IntVar(&c.maxFill, "max-value", 1200, "largest random filler per record, bytes")
	fs.IntVar(&c.segmentBytes, "segment-bytes", 256<<10, "log.segment.bytes (the main topic; __consumer_offsets gets a quarter)")
	fs.IntVar(&c.retSegmentBytes, "retention-segment-bytes", 64<<10, "segment.bytes of the retention topic")
	fs.IntVar(&c.retBytes, "retention-bytes", 256<<10, "retention.bytes of the retention topic")
	fs.IntVar(&c.retMs, "retention-ms", 5000, "retention.ms of the retention topic")
	_ = fs.Parse(args)
	c.seed = *seed
	if c.seed == 0 {
		c.seed = uint64(time.Now().UnixNano())
	}
	bin, err := strataBin(c.bin)
	if err != nil {
		return err
	}
	c.bin = bin
	if c.workDir == "" {
		if c.workDir, err = os.MkdirTemp("", "strata-torture-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(c.workDir, 0o755); err != nil {
		return err
	}
	logf("torture crash: seed %d, %d cycles of up to %s, strata %s, work dir %s", c.seed, c.cycles, c.cycleDuration, c.bin, c.workDir)
	logf("reproduce with: torture crash -seed %d -cycles %d -cycle-duration %s", c.seed, c.cycles, c.cycleDuration)
	r := &crashRun{cfg: c, start: time.Now()}
	err = r.run()
	if err == nil && !c.keep {
		os.RemoveAll(c.workDir)
	} else {
		logf("work dir kept: %s (broker log %s)", c.workDir, filepath.Join(c.workDir, "strata.log"))
	}
	return err
}

type crashRun struct {
	cfg    crashConfig
	start  time.Time
	broker *broker
	adm    *kadm.Client
	admCl  *kgo.Client
	seeds  []string
	ledger *ledger
	commit *committer

	dataLoss atomic.Int64 // franz-go saw a sequence gap: the broker forgot a batch

	kills      map[string]int
	hits       map[string]int
	commitLost int
	problems   []string
}

func (r *crashRun) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("PROBLEM: %s", msg)
	r.problems = append(r.problems, msg)
}

func (r *crashRun) run() error {
	c := r.cfg
	port, err := freePort()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(c.workDir, "data")
	r.broker = newBroker(c.bin, dataDir, port, filepath.Join(c.workDir, "strata.log"),
		"log.segment.bytes="+strconv.Itoa(c.segmentBytes),
		// __consumer_offsets takes its own key (Kafka's), so commit kills
		// land during its rolls too.
		"offsets.topic.segment.bytes="+strconv.Itoa(c.segmentBytes/4),
		"log.retention.check.interval.ms=100",
		"group.initial.rebalance.delay.ms=0",
		"auto.create.topics.enable=false",
	)
	defer r.broker.kill()
	if err := r.broker.start(60 * time.Second); err != nil {
		return err
	}
	r.seeds = []string{r.broker.addr()}
	if r.admCl, err = kgo.NewClient(clientOpts(r.seeds, kgo.RequestTimeoutOverhead(10*time.Second))...); err != nil {
		return err
	}
	defer r.admCl.Close()
	r.adm = kadm.NewClient(r.admCl)
	if err := r.createTopics(); err != nil {
		return err
	}
	r.ledger = newLedger(c.producers, mainTopic, retentionTopic)

	// Producers and the group member run through every kill and restart.
	stopProduce := make(chan struct{})
	var producers sync.WaitGroup
	var clients []*kgo.Client
	produceCtx, cancelProduce := context.WithCancel(context.Background())
	defer cancelProduce()
	for p := 0; p < c.producers; p++ {
		cl, err := kgo.NewClient(clientOpts(r.seeds,
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(2*time.Millisecond),
			kgo.ProduceRequestTimeout(10*time.Second),
			kgo.RecordDeliveryTimeout(2*time.Minute),
			kgo.MaxBufferedRecords(4000),
			// Batches built while the broker is down must still fit the
			// retention topic's small segments (a larger one is refused).
			kgo.ProducerBatchMaxBytes(int32(min(c.retSegmentBytes, c.segmentBytes)*3/4)),
			kgo.ProducerOnDataLossDetected(func(topic string, partition int32) {
				r.dataLoss.Add(1)
				logf("PROBLEM: producer %d: franz-go detected data loss on %s-%d (the broker answered a sequence gap)", p, topic, partition)
			}),
		)...)
		if err != nil {
			return err
		}
		defer cl.Close()
		clients = append(clients, cl)
		producers.Add(1)
		go func() {
			defer producers.Done()
			r.produce(produceCtx, cl, p, stopProduce)
		}()
	}
	r.commit = newCommitter()
	memberCl, err := kgo.NewClient(clientOpts(r.seeds,
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(mainTopic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(time.Second),
	)...)
	if err != nil {
		return err
	}
	stopMember := make(chan struct{})
	memberDone := make(chan struct{})
	go func() {
		defer close(memberDone)
		r.commit.run(memberCl, stopMember)
	}()
	memberClosed := false
	defer func() {
		if !memberClosed {
			close(stopMember)
			<-memberDone
			memberCl.Close()
		}
	}()

	r.kills, r.hits = map[string]int{}, map[string]int{}
	modes := r.killPlan()
	for cycle := 1; cycle <= c.cycles; cycle++ {
		if err := r.cycle(cycle, modes[cycle-1]); err != nil {
			return err
		}
	}

	// Wind down: no new records; everything buffered gets its answer.
	logf("stopping producers; waiting for every record's answer")
	close(stopProduce)
	producers.Wait()
	for i, cl := range clients {
		fctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		if err := cl.Flush(fctx); err != nil {
			r.problem("producer %d: flush did not finish: %v", i, err)
		}
		cancel()
	}
	close(stopMember)
	<-memberDone
	memberCl.Close()
	memberClosed = true

	// One more kill, so what is checked is what a restart recovers.
	r.broker.kill()
	r.kills["final"]++
	if err := r.broker.start(60 * time.Second); err != nil {
		return fmt.Errorf("restart after the final kill: %w", err)
	}
	return r.finalCheck()
}

func (r *crashRun) createTopics() error {
	c := r.cfg
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seg := strconv.Itoa(c.segmentBytes)
	if _, err := r.adm.CreateTopic(ctx, int32(c.partitions), 1, map[string]*string{"segment.bytes": &seg}, mainTopic); err != nil {
		return fmt.Errorf("creating %s: %w", mainTopic, err)
	}
	rseg, rbytes, rms := strconv.Itoa(c.retSegmentBytes), strconv.Itoa(c.retBytes), strconv.Itoa(c.retMs)
	if _, err := r.adm.CreateTopic(ctx, int32(c.retPartitions), 1, map[string]*string{
		"segment.bytes": &rseg, "retention.bytes": &rbytes, "retention.ms": &rms,
	}, retentionTopic); err != nil {
		return fmt.Errorf("creating %s: %w", retentionTopic, err)
	}
	return nil
}

// produce hands records to one client at the configured rate until stop: a
// quarter to the retention topic, the rest to the main topic, round robin
// over partitions. Only the client's answer decides whether one was acked.
func (r *crashRun) produce(ctx context.Context, cl *kgo.Client, producer int, stop <-chan struct{}) {
	c := r.cfg
	rng := seededRand(r.cfg.seed, uint64(100+producer))
	const tick = 10 * time.Millisecond
	perTick := max(1, c.rate/int(time.Second/tick))
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var seq uint64
	var mainN, retN int
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		for i := 0; i < perTick; i++ {
			topic, partition := 0, int32(0)
			if seq%4 == 3 {
				topic, partition = 1, int32(retN%c.retPartitions)
				retN++
			} else {
				partition = int32(mainN % c.partitions)
				mainN++
			}
			value := makeValue(producer, seq, rng, c.minFill, c.maxFill)
			r.ledger.add(producer, topic, partition, value)
			s := seq
			seq++
			cl.Produce(ctx, &kgo.Record{Topic: r.ledger.topics[topic], Partition: partition, Value: value},
				func(rec *kgo.Record, err error) { r.ledger.resolve(producer, s, rec, err) })
		}
	}
}

// killPlan gives each cycle a target: every block of four cycles holds each
// target once, in an order the seed decides.
func (r *crashRun) killPlan() []string {
	rng := seededRand(r.cfg.seed, 1)
	targets := []string{"random", "roll", "retention", "commit"}
	var plan []string
	for len(plan) < r.cfg.cycles {
		block := append([]string(nil), targets...)
		rng.Shuffle(len(block), func(i, j int) { block[i], block[j] = block[j], block[i] })
		plan = append(plan, block...)
	}
	return plan[:r.cfg.cycles]
}

func (r *crashRun) partitionDirs(topic string) []string {
	matches, _ := filepath.Glob(filepath.Join(r.broker.dataDir, topic+"-*"))
	re := regexp.MustCompile("^" + regexp.QuoteMeta(topic) + `-\d+$`)
	var out []string
	for _, m := range matches {
		if re.MatchString(filepath.Base(m)) {
			out = append(out, m)
		}
	}
	return out
}

// cycle lets the broker run, kills it with SIGKILL at a moment chosen by
// mode, restarts it, and checks what a restart must keep: every partition
// ends past its highest acknowledged offset, and the group's committed
// offsets are at least the last ones the broker acknowledged.
func (r *crashRun) cycle(n int, mode string) error {
	c := r.cfg
	rng := seededRand(c.seed, uint64(1000+n))
	began := time.Now()
	deadline := began.Add(c.cycleDuration)
	warmup := time.Duration(float64(c.cycleDuration) * (0.15 + 0.35*rng.Float64()))
	armAt := began.Add(warmup)
	hit := false
	what := ""
	killNow := func() {
		_ = syscall.Kill(r.broker.pid(), syscall.SIGKILL)
		r.broker.kill() // reaps it
	}
	time.Sleep(time.Until(armAt))
	switch mode {
	case "random":
		at := armAt.Add(time.Duration(rng.Float64() * float64(time.Until(deadline))))
		time.Sleep(time.Until(at))
		killNow()
		hit, what = true, fmt.Sprintf("at %.2fs", time.Since(began).Seconds())
	case "roll", "retention", "commit":
		w, err := newWatcher()
		if err != nil {
			return fmt.Errorf("inotify: %w", err)
		}
		var dirs []string
		var mask uint32
		var match func(fileEvent) bool
		switch mode {
		case "roll":
			// A segment roll creates .log, .index, .timeindex, then writes
			// the producer-state snapshot to .snapshot.tmp and renames it
			// to .snapshot: kill at one of those steps.
			suffix := []string{".log", ".index", ".timeindex", ".snapshot.tmp", ".snapshot"}[rng.IntN(5)]
			dirs = append(r.partitionDirs(mainTopic), r.partitionDirs(retentionTopic)...)
			mask = syscall.IN_CREATE | syscall.IN_MOVED_TO
			match = func(e fileEvent) bool { return strings.HasSuffix(e.name, suffix) }
			what = "creating a " + suffix
			if suffix == ".snapshot" {
				what = "renaming .snapshot.tmp to .snapshot"
			}
		case "retention":
			// Deleting a segment renames each file to .deleted, then removes
			// it: kill at the k-th of those steps.
			k := rng.IntN(6)
			seen := 0
			dirs = r.partitionDirs(retentionTopic)
			mask = syscall.IN_MOVED_TO | syscall.IN_DELETE
			match = func(e fileEvent) bool {
				if !strings.HasSuffix(e.name, ".deleted") {
					return false
				}
				seen++
				return seen > k
			}
			what = fmt.Sprintf("retention step %d (rename to .deleted / remove)", k+1)
		case "commit":
			dirs = r.partitionDirs("__consumer_offsets")
			mask = syscall.IN_MODIFY
			match = func(e fileEvent) bool { return strings.HasSuffix(e.name, ".log") }
			what = "writing __consumer_offsets"
		}
		for _, d := range dirs {
			_ = w.add(d, mask) // a directory retention just emptied may be gone; others suffice
		}
		delay := time.Duration(rng.IntN(1500)) * time.Microsecond
		ev, ok := w.wait(deadline, match)
		if ok {
			for t0 := time.Now(); time.Since(t0) < delay; {
				// spin: sleeping is too coarse to land between a write and its fsync
			}
			killNow()
			hit = true
			what = fmt.Sprintf("%s (%s/%s, +%dµs)", what, filepath.Base(ev.dir), ev.name, delay.Microseconds())
		} else {
			killNow()
			what = fmt.Sprintf("%s: not seen by %.1fs, killed then", what, time.Since(began).Seconds())
		}
		w.close()
	}
	r.kills[mode]++
	if hit {
		r.hits[mode]++
	}
	// Nothing can be acknowledged while the broker is down; let the answers
	// already received reach the ledger before taking its measure.
	r.commit.pause()
	time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
	ackedBefore := r.ledger.maxAcked()
	commitsBefore := r.commit.snapshotAcked()
	if err := r.broker.start(60 * time.Second); err != nil {
		return fmt.Errorf("cycle %d: restart: %w", n, err)
	}
	lost, err := r.checkAfterRestart(n, ackedBefore, commitsBefore)
	r.commit.resume()
	if err != nil {
		return err
	}
	counts := r.ledger.counts()
	logf("cycle %d/%d: killed %s %s; restarted; acked so far %d; end offsets keep every ack: %v; group commits kept: %v",
		n, c.cycles, mode, what, counts.acked, lost == 0, r.commitLost == 0)
	return nil
}

// checkAfterRestart compares the broker's end offsets and the group's
// committed offsets with what was acknowledged before the kill.
func (r *crashRun) checkAfterRestart(cycle int, ackedBefore map[string]map[int32]int64, commitsBefore map[int32]int64) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lost := 0
	for _, topic := range []string{mainTopic, retentionTopic} {
		ends, err := retry(ctx, func() (kadm.ListedOffsets, error) {
			o, err := r.adm.ListEndOffsets(ctx, topic)
			if err == nil {
				err = o.Error()
			}
			return o, err
		})
		if err != nil {
			return 0, fmt.Errorf("cycle %d: ListEndOffsets %s after restart: %w", cycle, topic, err)
		}
		for p, off := range ackedBefore[topic] {
			o, ok := ends.Lookup(topic, p)
			if !ok || o.Offset <= off {
				lost++
				r.problem("cycle %d: %s-%d ends at %d after restart, but offset %d was acknowledged", cycle, topic, p, o.Offset, off)
			}
		}
	}
	if !r.commit.waitIdle(20 * time.Second) {
		return lost, fmt.Errorf("cycle %d: an offset commit was still running 20s after the restart", cycle)
	}
	committed, err := r.fetchCommitted(ctx)
	if err != nil {
		return lost, fmt.Errorf("cycle %d: %w", cycle, err)
	}
	// Commits acknowledged after the snapshot (retried across the restart) count too.
	for p, a := range r.commit.snapshotAcked() {
		commitsBefore[p] = max(commitsBefore[p], a)
	}
	for p, want := range commitsBefore {
		if got, ok := committed[p]; !ok || got < want {
			r.commitLost++
			r.problem("cycle %d: group commit for %s-%d is %d after restart; %d was acknowledged", cycle, mainTopic, p, got, want)
		}
	}
	return lost, nil
}

func (r *crashRun) fetchCommitted(ctx context.Context) (map[int32]int64, error) {
	resp, err := retry(ctx, func() (kadm.OffsetResponses, error) {
		o, err := r.adm.FetchOffsets(ctx, groupID)
		if err == nil {
			err = o.Error()
		}
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("OffsetFetch for %s: %w", groupID, err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == mainTopic && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// retry calls f until it succeeds or ctx ends (the broker may still be
// loading the group, or clients may still be reconnecting).
func retry[T any](ctx context.Context, f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *crashRun) finalCheck() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Retention must not remove what is being read: switch it off, and let
	// any pass already running finish.
	if _, err := retry(ctx, func() (kadm.AlterConfigsResponses, error) {
		resp, err := r.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("-1")},
			{Op: kadm.SetConfig, Name: "retention.bytes", Value: kadm.StringPtr("-1")},
		}, retentionTopic)
		if err == nil {
			for _, x := range resp {
				err = errors.Join(err, x.Err)
			}
		}
		return resp, err
	}); err != nil {
		return fmt.Errorf("switching retention off for the read-back: %w", err)
	}
	time.Sleep(time.Second)

	counts := r.ledger.counts()
	var verdicts []*verdict
	ends := map[string]map[int32]int64{}
	for _, topic := range []string{mainTopic, retentionTopic} {
		data, start, end, err := readAll(ctx, r.seeds, r.adm, topic)
		if err != nil {
			return err
		}
		ends[topic] = end
		v := r.ledger.check(topic, data, start, end)
		verdicts = append(verdicts, v)
		if topic == retentionTopic {
			moved := 0
			for _, s := range start {
				if s > 0 {
					moved++
				}
			}
			if moved == 0 {
				r.problem("retention never moved the log start of %s: the scenario did not exercise retention", topic)
			}
			logf("%s log start offsets after the run: %v (end offsets %v)", topic, sortedMap(start), sortedMap(end))
		}
	}

	committed, err := r.fetchCommitted(ctx)
	if err != nil {
		return err
	}
	ahead := 0
	final := r.commit.snapshotAcked()
	consumed := r.commit.snapshotConsumed()
	for p, want := range final {
		if got, ok := committed[p]; !ok || got < want {
			r.commitLost++
			r.problem("after the last restart the group commit for %s-%d is %d; %d was acknowledged", mainTopic, p, got, want)
		}
	}
	for p, got := range committed {
		if got > consumed[p] || got > ends[mainTopic][p] {
			ahead++
			r.problem("group commit for %s-%d is %d, past what was consumed (%d) or produced (end %d)", mainTopic, p, got, consumed[p], ends[mainTopic][p])
		}
	}

	segments := 0
	for _, d := range r.partitionDirs(mainTopic) {
		logs, _ := filepath.Glob(filepath.Join(d, "*.log"))
		segments += len(logs)
	}
	if segments <= r.cfg.partitions {
		r.problem("%s never rolled a segment: the scenario did not exercise rolls", mainTopic)
	}
	recovered, truncated := recoveryStats(r.broker.logPath)

	fmt.Println()
	fmt.Println("==== torture crash summary ====")
	fmt.Printf("seed                 %d\n", r.cfg.seed)
	fmt.Printf("cycles               %d (+1 final kill before the read-back)\n", r.cfg.cycles)
	var kinds []string
	for _, m := range []string{"random", "roll", "retention", "commit"} {
		kinds = append(kinds, fmt.Sprintf("%s %d/%d", m, r.hits[m], r.kills[m]))
	}
	fmt.Printf("kills landed/planned %s\n", strings.Join(kinds, ", "))
	fmt.Printf("segments (main)      %d in %d partitions; partitions recovered at start-up %d, bytes truncated %d\n", segments, r.cfg.partitions, recovered, truncated)
	fmt.Printf("records sent         %d: acknowledged %d, failed %d, unanswered %d\n", counts.sent, counts.acked, counts.failed, counts.pending)
	if len(r.ledger.errs) > 0 {
		fmt.Printf("client errors        %s\n", topErrors(r.ledger.errs, 5))
	}
	lost, dup := 0, 0
	for _, v := range verdicts {
		fmt.Printf("check                %s\n", v)
		for _, e := range v.examples {
			fmt.Printf("                       %s\n", e)
		}
		lost += v.lost
		dup += v.duplicated
		if v.bad() {
			r.problems = append(r.problems, "read-back of "+v.topic+" found problems")
		}
	}
	fmt.Printf("records acknowledged %d\n", counts.acked)
	fmt.Printf("lost                 %d\n", lost)
	fmt.Printf("duplicated           %d\n", dup)
	fmt.Printf("commits acknowledged %d (partition offsets; %d commit requests failed or were refused)\n", r.commit.ackedCount(), r.commit.failedCount())
	fmt.Printf("commits lost         %d\n", r.commitLost)
	fmt.Printf("commits ahead        %d\n", ahead)
	fmt.Printf("group member read    %d records, %d with a bad checksum\n", r.commit.readCount(), r.commit.badCount())
	fmt.Printf("client data loss     %d (franz-go saw a sequence gap)\n", r.dataLoss.Load())
	fmt.Printf("time                 %s\n", time.Since(r.start).Round(time.Second))
	if r.commit.badCount() > 0 {
		r.problems = append(r.problems, "the group member read records with a bad checksum")
	}
	if r.dataLoss.Load() > 0 {
		r.problems = append(r.problems, "franz-go detected data loss")
	}
	if counts.acked < 1000 {
		r.problems = append(r.problems, fmt.Sprintf("only %d records were acknowledged: too few for the run to mean anything", counts.acked))
	}
	if r.commit.ackedCount() == 0 {
		r.problems = append(r.problems, "no offset commit was acknowledged: the group member never worked")
	}
	if len(r.problems) > 0 {
		fmt.Println("RESULT               FAIL")
		return fmt.Errorf("%d problems; first: %s", len(r.problems), r.problems[0])
	}
	fmt.Println("RESULT               PASS")
	return nil
}

var recoveredRe = regexp.MustCompile(`recovered partition.*bytes_truncated=(\d+)`)

// recoveryStats counts the partitions the broker's log says it recovered
// after a crash, and the bytes it cut off their tails.
func recoveryStats(logPath string) (partitions int, truncated int64) {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return 0, 0
	}
	for _, m := range recoveredRe.FindAllStringSubmatch(stripANSI(string(data)), -1) {
		partitions++
		n, _ := strconv.ParseInt(m[1], 10, 64)
		truncated += n
	}
	return partitions, truncated
}

var ansiRe = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiRe.ReplaceAllString(s, "") }

func sortedMap(m map[int32]int64) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, m[int32(k)]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func topErrors(errs map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range errs {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var parts []string
	for i, e := range all {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%dx %q", e.v, e.k))
	}
	return strings.Join(parts, "; ")
}

// committer is the consumer group member: it consumes the main topic and
// commits what it consumed, continuously, noting every partition offset
// whose commit the broker acknowledged.
type committer struct {
	mu       sync.Mutex
	acked    map[int32]int64 // highest acknowledged commit per partition
	consumed map[int32]int64 // one past the highest offset consumed
	nAcked   int
	nFailed  int
	nRead    int
	nBad     int

	paused   atomic.Bool
	inflight atomic.Int32
}

func newCommitter() *committer {
	return &committer{acked: map[int32]int64{}, consumed: map[int32]int64{}}
}

func (c *committer) pause()  { c.paused.Store(true) }
func (c *committer) resume() { c.paused.Store(false) }

// waitIdle waits until no commit is in flight (call after pause).
func (c *committer) waitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for c.inflight.Load() != 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func (c *committer) snapshotAcked() map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int32]int64, len(c.acked))
	for k, v := range c.acked {
		out[k] = v
	}
	return out
}

func (c *committer) snapshotConsumed() map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int32]int64, len(c.consumed))
	for k, v := range c.consumed {
		out[k] = v
	}
	return out
}

func (c *committer) ackedCount() int  { c.mu.Lock(); defer c.mu.Unlock(); return c.nAcked }
func (c *committer) failedCount() int { c.mu.Lock(); defer c.mu.Unlock(); return c.nFailed }
func (c *committer) readCount() int   { c.mu.Lock(); defer c.mu.Unlock(); return c.nRead }
func (c *committer) badCount() int    { c.mu.Lock(); defer c.mu.Unlock(); return c.nBad }

func (c *committer) run(cl *kgo.Client, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		pctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fetches := cl.PollRecords(pctx, 2000)
		cancel()
		c.mu.Lock()
		fetches.EachRecord(func(r *kgo.Record) {
			c.nRead++
			if _, _, ok := parseValue(r.Value); !ok {
				c.nBad++
			}
			if r.Offset+1 > c.consumed[r.Partition] {
				c.consumed[r.Partition] = r.Offset + 1
			}
		})
		c.mu.Unlock()
		// Announce the commit before looking at the pause flag, so that a
		// pause followed by waitIdle never misses one.
		c.inflight.Add(1)
		if c.paused.Load() {
			c.inflight.Add(-1)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		offsets := cl.UncommittedOffsets()
		if len(offsets) > 0 {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			cl.CommitOffsetsSync(cctx, offsets, c.onCommitted)
			cancel()
		}
		c.inflight.Add(-1)
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *committer) onCommitted(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.nFailed++
		return
	}
	sent := map[int32]int64{}
	for _, t := range req.Topics {
		if t.Topic != mainTopic {
			continue
		}
		for _, p := range t.Partitions {
			sent[p.Partition] = p.Offset
		}
	}
	for _, t := range resp.Topics {
		if t.Topic != mainTopic {
			continue
		}
		for _, p := range t.Partitions {
			off, ok := sent[p.Partition]
			if !ok {
				continue
			}
			if p.ErrorCode != 0 {
				c.nFailed++
				continue
			}
			c.nAcked++
			if off > c.acked[p.Partition] {
				c.acked[p.Partition] = off
			}
		}
	}
}
