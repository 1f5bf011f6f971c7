"""Consumer groups end to end against the broker at KAFKA_BOOTSTRAP.

Driven by compat-tests/groups/run.sh (which also knows how to restart the
broker: GROUPS_RESTART_CMD). For each client (librdkafka via confluent-kafka,
the Java client with the classic and with the consumer protocol, franz-go,
KafkaJS), group members are separate OS processes (worker.py,
java/GroupWorker.java, go/main.go, node/worker.mjs) so that they can be
killed. The clients' scenarios run at the same time, each with its own topic
and group; the broker restart is shared.

  phase 1 (per client), while a producer writes to a 6-partition topic:
    m1 joins (gets all 6); m2, m3 join (2+2+2); m2 closes (LeaveGroup);
    m4 joins; m3 is SIGKILLed and its partitions go to the others only after
    the session timeout; the producer stops, the rest drain and close.
    Every record must be committed-and-logged ("C") exactly once across the
    group, and the group's committed offsets must equal the log end offsets.
    Then EXTRA more records per partition are produced (lag EXTRA).
  phase 2: kafka-consumer-groups --list shows the groups; --describe shows
    each partition's CURRENT-OFFSET / LOG-END-OFFSET / LAG.
  phase 3: the broker restarts (same data); --describe again shows the same;
    a new member per group resumes exactly at the committed offsets and gets
    exactly the EXTRA records per partition; --describe then shows LAG 0.

The session timeout of a classic member is its own (session.timeout.ms);
with the consumer protocol it is the broker's
(group.consumer.session.timeout.ms, read with DescribeConfigs).

Prints one line per check, "ok ..." or "FAIL ...", and exits 1 on any FAIL.
Every wait is bounded; workers stop themselves when this process goes away.
"""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

from confluent_kafka import KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # noqa: E402
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition  # noqa: E402

from support import create_topic, wait_partitions_serving  # noqa: E402

BOOTSTRAP = os.environ["KAFKA_BOOTSTRAP"]
WORK = os.environ.get("GROUPS_WORK_DIR") or os.path.join(HERE, "target", "run")
# The JVMs start slowest, so they go first.
ALL_CLIENTS = ["java-consumer", "java", "librdkafka", "franz-go", "kafkajs"]
CLIENTS = os.environ.get("GROUPS_CLIENTS", " ".join(ALL_CLIENTS)).split()
RESTART_CMD = os.environ.get("GROUPS_RESTART_CMD", "")
TOOL_CMD = os.environ.get("GROUPS_TOOL_CMD", "")  # runs ConsumerGroupCommand with the args appended
# Each worker command takes: BOOTSTRAP GROUP TOPIC ID LOG SESSION_TIMEOUT_MS
# HEARTBEAT_MS ASSIGNOR MAX_SECONDS [PROTOCOL]; run.sh sets them.
WORKER_CMD = {"java": os.environ.get("GROUPS_JAVA_CMD", ""),  # java -cp ... GroupWorker
              "java-consumer": os.environ.get("GROUPS_JAVA_CMD", ""),
              "franz-go": os.environ.get("GROUPS_FRANZ_CMD", ""),  # go/ built by run.sh
              "kafkajs": os.environ.get("GROUPS_KAFKAJS_CMD", "")}  # node node/worker.mjs
SESSION_MS = int(os.environ.get("GROUPS_SESSION_TIMEOUT_MS", "6000"))
HEARTBEAT_MS = int(os.environ.get("GROUPS_HEARTBEAT_MS", "1000"))
# records/s per client while members come and go; every client's scenario
# runs at once, and each record costs a synchronous commit
RATE = float(os.environ.get("GROUPS_RATE", "20"))
# The assignor each client asks for, as kafka-consumer-groups --describe
# --state names it.
ASSIGNOR = {"librdkafka": os.environ.get("GROUPS_LIBRDKAFKA_ASSIGNOR", "range"),
            "java": os.environ.get("GROUPS_JAVA_ASSIGNOR", "cooperative-sticky"),
            "java-consumer": os.environ.get("GROUPS_JAVA_CONSUMER_ASSIGNOR", "uniform"),
            "franz-go": os.environ.get("GROUPS_FRANZ_BALANCER", "cooperative-sticky"),
            "kafkajs": "roundrobin"}
SHOWN_ASSIGNOR = dict(ASSIGNOR, kafkajs="RoundRobinAssigner")
PROTOCOL = {kind: "consumer" if kind == "java-consumer" else "classic" for kind in ALL_CLIENTS}
STAGGER = float(os.environ.get("GROUPS_STAGGER_S", "2"))  # seconds between the clients' starts
SERIAL = os.environ.get("GROUPS_SERIAL") == "1"  # one client after the other
PARTITIONS = 6
# Waits that include starting a member: a JVM took 31 s to start on the
# 2-core box at load average 22.
JOIN_S = 120
FLUSH_S = 90  # a loaded machine (2 cores, 5 clients' JVMs) can hold a durable ack up for a while
EXTRA = 7
WORKER_MAX_SECONDS = 400
RUN_ID = uuid.uuid4().hex[:8]

failures = []
_print_lock = threading.Lock()


def log(msg):
    with _print_lock:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def check(cond, what, detail=""):
    if cond:
        log(f"ok   {what}")
    else:
        log(f"FAIL {what}" + (f": {detail}" if detail else ""))
        failures.append(what + (f": {detail}" if detail else ""))
    return cond


class Timeouts:
    """A member's session timeout and heartbeat interval, in ms."""

    def __init__(self, session_ms, heartbeat_ms, source):
        self.session_ms, self.heartbeat_ms, self.source = session_ms, heartbeat_ms, source


CLASSIC_TIMEOUTS = Timeouts(SESSION_MS, HEARTBEAT_MS, "session.timeout.ms")
TIMEOUTS = {}  # kind -> Timeouts; the consumer protocol's are filled in by main()


def broker_consumer_timeouts():
    """group.consumer.session.timeout.ms and .heartbeat.interval.ms of the broker."""
    a = admin()
    md = a.list_topics(timeout=15)
    broker = str(next(iter(md.brokers)))
    res = ConfigResource(ResourceType.BROKER, broker)
    cfg = a.describe_configs([res], request_timeout=15)[res].result(timeout=20)

    def num(key):
        if key not in cfg or cfg[key].value is None:
            raise Fatal(f"DescribeConfigs of broker {broker} has no {key}")
        return int(cfg[key].value)
    return Timeouts(num("group.consumer.session.timeout.ms"), num("group.consumer.heartbeat.interval.ms"),
                    "the broker's group.consumer.session.timeout.ms")


class Fatal(Exception):
    pass


def wait_for(pred, what, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Fatal(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- workers -------------------------------------------------------------------

ALL_WORKERS = []
_workers_lock = threading.Lock()


class Worker:
    def __init__(self, kind, name, group, topic):
        self.kind, self.name, self.group, self.topic = kind, name, group, topic
        self.log_path = os.path.join(WORK, f"{RUN_ID}-{kind}-{name}.jsonl")
        self.err_path = self.log_path[:-6] + ".stderr"
        self.events = []
        self._pos = 0
        self._buf = b""
        self.proc = None
        self.killed = False

    def start(self):
        open(self.log_path, "w").close()
        if self.kind == "librdkafka":
            cmd = [sys.executable, os.path.join(HERE, "worker.py"), "--bootstrap", BOOTSTRAP,
                   "--group", self.group, "--topic", self.topic, "--id", self.name, "--log", self.log_path,
                   "--session-timeout-ms", str(SESSION_MS), "--heartbeat-ms", str(HEARTBEAT_MS),
                   "--assignor", ASSIGNOR["librdkafka"], "--max-seconds", str(WORKER_MAX_SECONDS)]
        else:
            if not WORKER_CMD.get(self.kind):
                raise Fatal(f"no worker command for {self.kind} (run.sh sets GROUPS_JAVA_CMD, "
                            f"GROUPS_FRANZ_CMD, GROUPS_KAFKAJS_CMD)")
            cmd = shlex.split(WORKER_CMD[self.kind]) + [
                BOOTSTRAP, self.group, self.topic, self.name, self.log_path, str(SESSION_MS), str(HEARTBEAT_MS),
                ASSIGNOR[self.kind], str(WORKER_MAX_SECONDS), PROTOCOL[self.kind]]
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
        with _workers_lock:
            ALL_WORKERS.append(self)
        log(f"started {self.kind} member {self.name} (pid {self.proc.pid})")
        return self

    def read(self):
        with open(self.log_path, "rb") as f:
            f.seek(self._pos)
            data = f.read()
        self._pos += len(data)
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            if line.strip():
                self.events.append(json.loads(line))
        return self.events

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assignment(self):
        self.read()
        for e in reversed(self.events):
            if e["ev"] == "assign":
                return set(e["parts"])
        return set()

    def consumed(self):
        self.read()
        return [e for e in self.events if e["ev"] == "C"]

    def term(self, timeout=40):
        log(f"closing {self.name} (SIGTERM -> close())")
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise Fatal(f"{self.name} did not close within {timeout}s")
        self.read()
        # The JVM exits 143 after its shutdown hook ran on SIGTERM; the others 0.
        check(rc in (0, 143) and any(e["ev"] == "closed" for e in self.events),
              f"{self.kind}: {self.name} closed cleanly",
              f"exit {rc}, see {self.err_path}")

    def kill(self):
        log(f"killing {self.name} (SIGKILL)")
        self.proc.kill()
        self.proc.wait(10)
        self.killed = True
        self.read()

    def stderr_tail(self, n=15):
        try:
            with open(self.err_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def stop_workers(workers=None):
    if workers is None:
        with _workers_lock:
            workers = list(ALL_WORKERS)
    for w in workers:
        if w.alive():
            w.proc.terminate()
    for w in workers:
        if w.proc is not None:
            try:
                w.proc.wait(15)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait(5)


def wait_stable(members, what, timeout):
    """Live `members` own disjoint, non-empty sets of partitions covering all,
    as evenly as can be (every assignor here balances one topic's partitions
    to within one). Even: with the consumer protocol a member can still own a
    partition it is about to give up while the others already cover the rest."""
    t0 = time.monotonic()

    def stable():
        for m in members:
            if not m.alive():
                raise Fatal(f"member {m.name} exited: {m.stderr_tail()}")
        sets = [m.assignment() for m in members]
        union = set().union(*sets)
        sizes = [len(s) for s in sets]
        return (all(sets) and union == set(range(PARTITIONS))
                and sum(sizes) == PARTITIONS and max(sizes) - min(sizes) <= 1)

    try:
        wait_for(stable, what, timeout)
    except Fatal as e:
        if "exited" in str(e):
            raise
        detail = ", ".join(f"{m.name}={sorted(m.assignment())}" for m in members)
        raise Fatal(f"timed out after {timeout}s waiting for {what} ({detail})")
    dt = time.monotonic() - t0
    log(f"ok   {what} after {dt:.1f}s: " + ", ".join(f"{m.name}={sorted(m.assignment())}" for m in members))
    return dt


def wait_progress(members, n, timeout=30):
    """Each member commits at least n more records."""
    base = {m.name: len(m.consumed()) for m in members}
    wait_for(lambda: all(len(m.consumed()) - base[m.name] >= n for m in members),
             f"each of {[m.name for m in members]} to commit {n} more records", timeout)


# --- producing / admin -----------------------------------------------------------


class Feed:
    """Produces value "<prefix>-<seq>" to partition seq % 6 at RATE/s in a thread."""

    def __init__(self, topic, prefix):
        self.topic, self.prefix = topic, prefix
        self.producer = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "linger.ms": 5,
                                  "log_level": 2})  # quiet while the broker restarts
        self.seq = 0
        self.delivered = {}  # (p, o) -> value
        self.errors = []
        self._stop = threading.Event()
        self._thread = None

    def _cb(self, err, msg):
        if err is not None:
            self.errors.append(str(err))
        else:
            self.delivered[(msg.partition(), msg.offset())] = msg.value().decode()

    def produce_one(self):
        self.producer.produce(self.topic, value=f"{self.prefix}-{self.seq}".encode(),
                              partition=self.seq % PARTITIONS, on_delivery=self._cb)
        self.seq += 1
        self.producer.poll(0)

    def _run(self):
        interval = 1.0 / RATE
        nxt = time.monotonic()
        while not self._stop.is_set():
            self.produce_one()
            nxt += interval
            self._stop.wait(max(0.0, nxt - time.monotonic()))

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        left = self.producer.flush(FLUSH_S)
        if left or self.errors:
            raise Fatal(f"producer: {left} undelivered, errors {self.errors[:5]}")

    def produce_per_partition(self, n):
        for _ in range(n * PARTITIONS):
            self.produce_one()
        left = self.producer.flush(FLUSH_S)
        if left or self.errors:
            raise Fatal(f"producer: {left} undelivered, errors {self.errors[:5]}")

    def ends(self):
        end = {p: 0 for p in range(PARTITIONS)}
        for (p, o) in self.delivered:
            end[p] = max(end[p], o + 1)
        return end


def admin():
    return AdminClient({"bootstrap.servers": BOOTSTRAP, "log_level": 2})


def committed_offsets(group, topic, timeout=30):
    a = admin()
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(PARTITIONS)])
    deadline = time.monotonic() + timeout
    while True:
        try:
            res = a.list_consumer_group_offsets([req], request_timeout=10)[group].result(timeout=15)
            return {tp.partition: tp.offset for tp in res.topic_partitions}
        except KafkaException as e:
            if time.monotonic() > deadline:
                raise Fatal(f"OffsetFetch for {group}: {e}")
            time.sleep(0.5)


# --- kafka-consumer-groups -------------------------------------------------------


def tool(*args, timeout=90):
    cmd = shlex.split(TOOL_CMD) + ["--bootstrap-server", BOOTSTRAP] + list(args)
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout}s"
    log(f"     kafka-consumer-groups {' '.join(args)}: exit {r.returncode} in {time.monotonic() - t0:.1f}s")
    with _print_lock, open(os.path.join(WORK, "kafka-consumer-groups.txt"), "a") as f:
        f.write(f"$ kafka-consumer-groups {' '.join(args)}  (exit {r.returncode})\n{r.stdout}{r.stderr}\n")
    return r.returncode, r.stdout, r.stderr


def table(out, first_col):
    """The rows of kafka-consumer-groups' table as dicts, split at the header's
    column starts (a column can be empty, so str.split() would shift)."""
    rows, starts, names = [], None, None
    for line in out.splitlines():
        if line.startswith(first_col + " "):
            names = line.split()
            starts = [line.index(n) if i == 0 else line.index(" " + n) + 1 for i, n in enumerate(names)]
            continue
        if starts and line.strip() and not line.startswith("Consumer group"):
            ends = starts[1:] + [None]
            rows.append({n: line[a:b].strip() for n, a, b in zip(names, starts, ends)})
    return rows


def describe_rows(groups):
    args = ["--describe"]
    for g in groups:
        args += ["--group", g]
    rc, out, err = tool(*args)
    rows = {}
    for r in table(out, "GROUP"):
        if r.get("GROUP") in groups and r.get("PARTITION", "").isdigit():
            rows[(r["GROUP"], int(r["PARTITION"]))] = {
                "topic": r.get("TOPIC"), "current": r.get("CURRENT-OFFSET"), "end": r.get("LOG-END-OFFSET"),
                "lag": r.get("LAG"), "consumer": r.get("CONSUMER-ID")}
    return rc, out, err, rows


def check_describe(when, expect):
    """expect: group -> (topic, {p: committed}, {p: end})."""
    groups = list(expect)
    rc = out = err = rows = None
    # A just-restarted broker may still be loading the group (COORDINATOR_LOAD_IN_PROGRESS).
    for attempt in range(4):
        rc, out, err, rows = describe_rows(groups)
        if rc == 0 and len(rows) == PARTITIONS * len(groups):
            break
        time.sleep(3)
    ok = check(rc == 0, f"{when}: kafka-consumer-groups --describe exits 0", f"exit {rc}: {err.strip()[-800:]}")
    for g, (topic, commit, end) in expect.items():
        bad = []
        for p in range(PARTITIONS):
            r = rows.get((g, p))
            want = (str(commit[p]), str(end[p]), str(end[p] - commit[p]))
            if r is None:
                bad.append(f"p{p}: no row")
            elif (r["current"], r["end"], r["lag"]) != want or r["topic"] != topic:
                bad.append(f"p{p}: CURRENT/LOG-END/LAG {r['current']}/{r['end']}/{r['lag']} want {'/'.join(want)}")
        ok &= check(not bad, f"{when}: --describe {g}: every partition's CURRENT-OFFSET, LOG-END-OFFSET, LAG "
                    f"(lag {sum(end[p] - commit[p] for p in range(PARTITIONS))})",
                    "; ".join(bad) + ("" if rows else f"\n--- stdout:\n{out}\n--- stderr:\n{err[-1500:]}"))
    if not ok:
        log("     --describe output:\n" + out + ("\n" + err[-1500:] if err.strip() else ""))


# --- the scenario --------------------------------------------------------------


def verify_exactly_once(kind, feed, members):
    """Every delivered record has exactly one C line across the group.

    The one allowed exception: a record the SIGKILLed member logged P for and
    whose commit then went through before the kill cut off its C line (the
    new owner starts after it). It is reported, not failed.
    """
    cs = {}
    for m in members:
        for e in m.consumed():
            cs.setdefault((e["p"], e["o"]), []).append((m.name, e["v"]))
    killed_pending = set()  # at most one per killed member: it handles one record at a time
    for m in members:
        if m.killed:
            last = [e for e in m.events if e["ev"] in ("P", "C", "commit_failed")][-1:]
            if last and last[0]["ev"] == "P":
                killed_pending.add((last[0]["p"], last[0]["o"]))
    dup = {k: v for k, v in cs.items() if len(v) > 1}
    missing = sorted(k for k in feed.delivered if k not in cs and k not in killed_pending)
    ambiguous = sorted(k for k in feed.delivered if k not in cs and k in killed_pending)
    unknown = sorted(k for k in cs if k not in feed.delivered)
    wrong = sorted(k for k, v in cs.items() if k in feed.delivered and v[0][1] != feed.delivered[k])
    check(not dup, f"{kind}: no record consumed twice ({len(cs)} consumed of {len(feed.delivered)} produced)",
          f"{len(dup)} duplicates, e.g. " + ", ".join(f"p{p}@{o} by {v}" for (p, o), v in list(dup.items())[:8]))
    check(not missing, f"{kind}: no record skipped",
          f"{len(missing)} never consumed, e.g. {missing[:10]}")
    check(not unknown and not wrong, f"{kind}: consumed records are the produced ones",
          f"unknown offsets {unknown[:5]}, wrong values {wrong[:5]}")
    if ambiguous:
        log(f"     note: {ambiguous} logged P but not C by the killed member; committed before the kill")
    per_member = {m.name: len(m.consumed()) for m in members}
    log(f"     records committed per member: {per_member}")
    return per_member


# A consumer-protocol member id is drawn by the client: a Uuid in base64url.
KIP848_MEMBER_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def phase1(kind, members):
    """Join/leave/kill with traffic; returns (group, topic, feed, committed, end).
    Every member started goes into `members` (the caller stops them)."""
    tmo = TIMEOUTS[kind]
    log(f"=== {kind}: 3 members in one group over a {PARTITIONS}-partition topic "
        f"({PROTOCOL[kind]} protocol, session timeout {tmo.session_ms} ms from {tmo.source}) ===")
    topic = f"groups-{kind}-{RUN_ID}"
    group = f"grp-{kind}-{RUN_ID}"
    create_topic(admin(), topic, PARTITIONS)
    feed = Feed(topic, f"{kind}")

    def new(name):
        w = Worker(kind, name, group, topic).start()
        members.append(w)
        return w

    feed.start()
    m1 = new("m1")
    wait_stable([m1], f"{kind}: m1 alone owns all {PARTITIONS} partitions", JOIN_S)
    wait_progress([m1], 5)
    m2, m3 = new("m2"), new("m3")
    wait_stable([m1, m2, m3], f"{kind}: m1, m2, m3 joined and split the partitions", JOIN_S)
    wait_progress([m1, m2, m3], 5)

    rc, out, err = tool("--describe", "--group", group, "--members")
    # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
    rows = [r for r in table(out, "GROUP") if r.get("GROUP") == group]
    clients = sorted(r.get("CLIENT-ID", "") for r in rows)
    nparts = sum(int(r["#PARTITIONS"]) for r in rows if r.get("#PARTITIONS", "").isdigit())
    check(rc == 0 and clients == ["m1", "m2", "m3"] and nparts == PARTITIONS,
          f"{kind}: --describe --members shows m1, m2, m3 with {PARTITIONS} partitions in all while stable",
          f"exit {rc}, clients {clients}, partitions {nparts}\n{out}\n{err[-800:]}")
    hosts = sorted(r.get("HOST", "") for r in rows)
    # Kafka shows the member's address as InetAddress.toString(): "/127.0.0.1".
    check(rows and all(h.lstrip("/") == "127.0.0.1" for h in hosts),
          f"{kind}: --describe --members shows each member's HOST (/127.0.0.1)", f"HOST column {hosts}\n{out}")
    if PROTOCOL[kind] == "consumer":
        check(rows and all(KIP848_MEMBER_ID.match(r.get("CONSUMER-ID", "")) for r in rows),
              f"{kind}: --describe --members: CONSUMER-IDs are the members' own Uuids", f"\n{out}")
    else:
        check(rows and all(r.get("CONSUMER-ID", "").startswith(r.get("CLIENT-ID", "?") + "-") for r in rows),
              f"{kind}: --describe --members: CONSUMER-IDs are CLIENT-ID-<uuid>", f"\n{out}")

    rc, out, err = tool("--describe", "--group", group, "--state")
    # GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS
    st = [r for r in table(out, "GROUP") if r.get("GROUP") == group]
    got = (st[0].get("ASSIGNMENT-STRATEGY"), st[0].get("STATE"), st[0].get("#MEMBERS")) if st else None
    check(rc == 0 and got == (SHOWN_ASSIGNOR[kind], "Stable", "3"),
          f"{kind}: --describe --state shows {SHOWN_ASSIGNOR[kind]}, Stable, 3 members",
          f"exit {rc}, got {got}\n{out}\n{err[-800:]}")

    m2.term()
    wait_stable([m1, m3], f"{kind}: after m2 left, m1 and m3 own all partitions", JOIN_S)
    wait_progress([m1, m3], 5)
    m4 = new("m4")
    wait_stable([m1, m3, m4], f"{kind}: m4 joined", JOIN_S)
    wait_progress([m1, m3, m4], 5)

    lost = m3.assignment()
    t_kill = time.monotonic()
    m3.kill()
    wait_stable([m1, m4], f"{kind}: m3's partitions {sorted(lost)} reassigned after the SIGKILL",
                tmo.session_ms / 1000 + 45)
    dt_total = time.monotonic() - t_kill
    # The coordinator only notices after the session timeout without a heartbeat
    # (the last one may have been up to a heartbeat interval before the kill).
    check(dt_total >= (tmo.session_ms - tmo.heartbeat_ms) / 1000 - 0.5,
          f"{kind}: reassignment waited for the session timeout ({dt_total:.1f}s >= "
          f"~{(tmo.session_ms - tmo.heartbeat_ms) / 1000:.0f}s)", f"only {dt_total:.1f}s")
    check(dt_total <= tmo.session_ms / 1000 + 20, f"{kind}: reassignment within session timeout + 20s",
          f"{dt_total:.1f}s")
    wait_progress([m1, m4], 5)
    feed.stop()
    end = feed.ends()
    total = sum(end.values())
    log(f"     produced {total} records, log end offsets {end}")

    def drained():
        done = {(e["p"], e["o"]) for m in members for e in m.consumed()}
        return len(done & set(feed.delivered)) >= len(feed.delivered) - 1
    try:
        wait_for(drained, f"{kind}: the group to consume all {total} records", 60)
        time.sleep(1.0)
    except Fatal as e:
        log(f"     {e}")
    m1.term()
    m4.term()
    verify_exactly_once(kind, feed, members)
    committed = committed_offsets(group, topic)
    check(committed == end, f"{kind}: committed offsets == log end offsets", f"committed {committed}, end {end}")
    for m in members:
        errs = [e for e in m.events if e["ev"] in ("error", "commit_failed", "seek_failed")]
        if errs:
            log(f"     {m.name}: {len(errs)} error/commit_failed events, e.g. {errs[:3]}")
    feed.produce_per_partition(EXTRA)
    return {"kind": kind, "group": group, "topic": topic, "feed": feed, "committed": committed,
            "end": feed.ends()}


def phase3_resume(g, members):
    kind, group, topic, feed = g["kind"], g["group"], g["topic"], g["feed"]
    log(f"=== {kind}: a new member resumes from the committed offsets after the restart ===")
    w = Worker(kind, "m5", group, topic).start()
    members.append(w)
    want = {(p, o) for p in range(PARTITIONS) for o in range(g["committed"][p], g["end"][p])}
    try:
        wait_for(lambda: {(e["p"], e["o"]) for e in w.consumed()} >= want or not w.alive(),
                 f"{kind}: m5 to consume the {len(want)} records after the committed offsets", JOIN_S)
    except Fatal as e:
        check(False, f"{kind}: m5 consumed the records after the committed offsets", str(e))
    time.sleep(1.5)  # anything extra would show up now
    w.term()
    got = [(e["p"], e["o"]) for e in w.consumed()]
    first = {}
    for p, o in got:
        first.setdefault(p, o)
    check(first == {p: g["committed"][p] for p in range(PARTITIONS) if g["end"][p] > g["committed"][p]},
          f"{kind}: m5 started each partition exactly at the committed offset",
          f"first offsets {first}, committed {g['committed']}")
    check(sorted(got) == sorted(want) and len(got) == len(set(got)),
          f"{kind}: m5 consumed exactly the {len(want)} records produced after the commits, once each",
          f"got {len(got)} ({len(set(got))} distinct), missing {sorted(want - set(got))[:10]}, "
          f"extra {sorted(set(got) - want)[:10]}")
    wrong = [(p, o) for p, o in got if (p, o) in feed.delivered and
             next(e["v"] for e in w.consumed() if (e["p"], e["o"]) == (p, o)) != feed.delivered[(p, o)]]
    check(not wrong, f"{kind}: m5's record values match", f"{wrong[:5]}")
    committed = committed_offsets(group, topic)
    check(committed == g["end"], f"{kind}: committed offsets == log end offsets after m5",
          f"committed {committed}, end {g['end']}")


def check_listing(when, groups):
    """--list --state --type: each group Empty, with its protocol's type."""
    rc, out, err = tool("--list", "--state", "--type")
    # GROUP STATE TYPE
    listed = {r.get("GROUP"): (r.get("STATE"), r.get("TYPE")) for r in table(out, "GROUP")}
    want = {g["group"]: ("Empty", "Consumer" if PROTOCOL[g["kind"]] == "consumer" else "Classic") for g in groups}
    got = {g: listed.get(g) for g in want}
    check(rc == 0 and got == want, f"{when}: --list --state --type shows the groups, Empty, with their protocol's type",
          f"exit {rc}, got {got}, want {want}\n{out}\n{err[-800:]}")


def check_states(when, groups):
    """--describe --state: Empty, no members; an empty consumer-protocol group
    names the broker's default server-side assignor (uniform), a classic one
    none ("-")."""
    args = ["--describe", "--state"]
    for g in groups:
        args += ["--group", g["group"]]
    rc, out, err = tool(*args)
    # GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS, one table per group
    rows = {r.get("GROUP"): (r.get("ASSIGNMENT-STRATEGY"), r.get("STATE"), r.get("#MEMBERS"))
            for r in table(out, "GROUP")}
    want = {g["group"]: ("uniform" if PROTOCOL[g["kind"]] == "consumer" else "-", "Empty", "0") for g in groups}
    got = {g: rows.get(g) for g in want}
    check(rc == 0 and got == want,
          f"{when}: --describe --state shows each group Empty with 0 members (assignor uniform for the "
          f"consumer protocol, - for classic)", f"exit {rc}, got {got}, want {want}\n{out}\n{err[-800:]}")


# --- a consumer-protocol member alive across the broker restart -----------------------
#
# Kafka keeps consumer-protocol groups (members, epochs, assignments) in
# __consumer_offsets and gives every member a fresh session when it loads
# them, so a member that keeps heartbeating through the restart keeps its
# partitions: no revocation, no onPartitionsLost, no rejoin. Its own topic and
# group, so that the other groups' offsets and lag stay as phase 1 left them;
# nothing is produced while the broker is down.


def ride_start(kind):
    topic = f"groups-{kind}-live-{RUN_ID}"
    group = f"grp-{kind}-live-{RUN_ID}"
    log(f"=== {kind}: r1 in {group} stays up while the broker restarts ===")
    create_topic(admin(), topic, PARTITIONS)
    feed = Feed(topic, f"{kind}-live")
    feed.produce_per_partition(EXTRA)
    w = Worker(kind, "r1", group, topic).start()
    return {"kind": kind, "topic": topic, "group": group, "feed": feed, "worker": w}


def ride_consumed_all(r, what):
    w, feed = r["worker"], r["feed"]
    wait_for(lambda: {(e["p"], e["o"]) for e in w.consumed()} >= set(feed.delivered) or not w.alive(),
             f"{r['kind']}: r1 to consume {what}", JOIN_S)
    if not w.alive():
        raise Fatal(f"r1 exited: {w.stderr_tail()}")


def ride_ready(r):
    wait_stable([r["worker"]], f"{r['kind']}: r1 alone owns all {PARTITIONS} partitions of its group", JOIN_S)
    ride_consumed_all(r, f"the {len(r['feed'].delivered)} records before the restart")
    r["assigns"] = len([e for e in r["worker"].read() if e["ev"] == "assign"])


def ride_finish(r):
    kind, w, feed = r["kind"], r["worker"], r["feed"]
    feed.produce_per_partition(EXTRA)
    ride_consumed_all(r, f"all {len(feed.delivered)} records, {EXTRA * PARTITIONS} of them after the restart")
    time.sleep(1.0)  # anything extra would show up now
    changes = [e for e in w.read() if e["ev"] == "assign"][r["assigns"]:]
    w.term()
    check(not changes, f"{kind}: r1, alive across the restart, kept its {PARTITIONS} partitions "
          f"(no revocation, none lost)", f"assignment changes {changes}")
    verify_exactly_once(f"{kind} r1", feed, [w])
    committed = committed_offsets(r["group"], r["topic"])
    check(committed == feed.ends(), f"{kind}: r1's committed offsets == log end offsets",
          f"committed {committed}, end {feed.ends()}")


def restart_broker():
    if not RESTART_CMD:
        raise Fatal("GROUPS_RESTART_CMD is not set: cannot restart the broker")
    log(f"=== restarting the broker: {RESTART_CMD} ===")
    t0 = time.monotonic()
    r = subprocess.run(RESTART_CMD, shell=True, timeout=240, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Fatal(f"restart command exited {r.returncode}")

    def up():
        try:
            md = admin().list_topics(timeout=5)
            return md is not None and md.brokers
        except KafkaException:
            return False
    wait_for(up, "the broker to answer Metadata after the restart", 90, 1)
    log(f"     broker back after {time.monotonic() - t0:.1f}s")


def for_each_client(items, fn, what):
    """fn(item, members) for every item, each in its own thread (one after
    the other with GROUPS_SERIAL=1), started STAGGER seconds apart so that the
    JVMs and processes do not all start at once. A failure is that client's
    only; its members are stopped when its fn returns. Returns the results
    in the order of `items` (None for a failed one)."""
    results = [None] * len(items)

    def run(i, item):
        kind = item if isinstance(item, str) else item["kind"]
        members = []
        try:
            results[i] = fn(item, members)
        except Fatal as e:
            check(False, f"{kind}: {what}", str(e))
        except Exception:  # a bug here must fail the run, not vanish with its thread
            check(False, f"{kind}: {what}", traceback.format_exc())
        finally:
            stop_workers(members)

    threads = []
    for i, item in enumerate(items):
        if SERIAL:
            run(i, item)
            continue
        if threads:
            time.sleep(STAGGER)
        t = threading.Thread(target=run, args=(i, item), name=f"{what}-{i}", daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return results


def main():
    os.makedirs(WORK, exist_ok=True)
    unknown = [c for c in CLIENTS if c not in ALL_CLIENTS]
    if unknown:
        log(f"FAIL GROUPS_CLIENTS: unknown {unknown}; known: {' '.join(ALL_CLIENTS)}")
        return 1
    t0 = time.monotonic()
    groups = []
    try:
        broker = broker_consumer_timeouts() if any(PROTOCOL[k] == "consumer" for k in CLIENTS) else None
        for kind in CLIENTS:
            TIMEOUTS[kind] = broker if PROTOCOL[kind] == "consumer" else CLASSIC_TIMEOUTS
        log(f"bootstrap {BOOTSTRAP}, clients {CLIENTS} ({'one after the other' if SERIAL else 'at the same time'}), "
            f"session timeouts " + ", ".join(f"{k} {t.session_ms} ms" for k, t in TIMEOUTS.items())
            + f", run {RUN_ID}, logs in {WORK}")
        groups = [g for g in for_each_client(CLIENTS, phase1, "scenario") if g]
        log(f"     phase 1 of every client done after {time.monotonic() - t0:.0f}s")
        if not groups:
            raise Fatal("no group got through phase 1")

        rides = []  # started now so that the JVM starts while the tool runs
        for kind in (k for k in CLIENTS if PROTOCOL[k] == "consumer"):
            try:
                rides.append(ride_start(kind))
            except Fatal as e:
                check(False, f"{kind}: r1 across the restart", str(e))

        log("=== kafka-consumer-groups ===")
        check_listing("before restart", groups)
        check_states("before restart", groups)
        expect = {g["group"]: (g["topic"], g["committed"], g["end"]) for g in groups}
        check_describe("before restart", expect)

        for r in list(rides):
            try:
                ride_ready(r)
            except Fatal as e:
                check(False, f"{r['kind']}: r1 across the restart", str(e))
                rides.remove(r)
        if os.environ.get("GROUPS_NO_RESTART") == "1":
            log("GROUPS_NO_RESTART=1: not restarting the broker")
        else:
            restart_broker()
            for g in groups:
                wait_partitions_serving(g["topic"], PARTITIONS)
            check_describe("after restart", expect)
            check_listing("after restart", groups)
            check_states("after restart", groups)
        for r in rides:
            try:
                ride_finish(r)
            except Fatal as e:
                check(False, f"{r['kind']}: r1 across the restart", str(e))
        for_each_client(groups, phase3_resume, "resume")
        check_describe("after resuming", {g["group"]: (g["topic"], g["end"], g["end"]) for g in groups})
    except Fatal as e:
        check(False, "run", str(e))
    finally:
        stop_workers()
    log(f"done in {time.monotonic() - t0:.0f}s: {len(failures)} failure(s)")
    for f in failures:
        log(f"  FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
