"""One member of a consumer group (librdkafka via confluent-kafka), run as its
own OS process by groups_test.py so that it can be closed (SIGTERM) or killed
(SIGKILL).

It subscribes to one topic and, for every record: writes a "P" line (about to
commit), commits offset+1 for that partition synchronously, and only when the
commit succeeded writes a "C" line. A record is "consumed" once its C line is
written, so across the group every record must have exactly one C line. When a
commit fails (rebalance in progress, fenced generation) the partition is
rewound to the record, so that whoever owns it next delivers it again.

Every line is one JSON object, written with a single write(2) (line
buffering), so a SIGKILL never leaves half a line:
  {"ev":"start"} {"ev":"assign","parts":[..]} {"ev":"P"|"C","p":..,"o":..,"v":".."}
  {"ev":"commit_failed","p":..,"o":..,"err":".."} {"ev":"error","err":".."}
  {"ev":"closed"}

SIGTERM: finish the current record, close() (LeaveGroup), exit 0. The worker
also stops by itself after --max-seconds or when its parent process is gone.
"""

import argparse
import json
import os
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=1000)
    ap.add_argument("--assignor", default="range")
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()

    out = open(args.log, "a", buffering=1)

    def emit(**kw):
        kw["t"] = round(time.time(), 3)
        out.write(json.dumps(kw, separators=(",", ":")) + "\n")

    stop = {"flag": False}

    def on_term(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    owned = set()

    def cooperative(consumer):
        return args.assignor == "cooperative-sticky"

    def on_assign(consumer, parts):
        if not cooperative(consumer):
            owned.clear()
        owned.update(tp.partition for tp in parts)
        emit(ev="assign", parts=sorted(owned))

    def on_revoke(consumer, parts):
        owned.difference_update(tp.partition for tp in parts)
        emit(ev="assign", parts=sorted(owned), why="revoke")

    def on_lost(consumer, parts):
        owned.difference_update(tp.partition for tp in parts)
        emit(ev="assign", parts=sorted(owned), why="lost")

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "client.id": args.id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": args.session_timeout_ms,
            "heartbeat.interval.ms": args.heartbeat_ms,
            "partition.assignment.strategy": args.assignor,
            "group.protocol": "classic",
            "error_cb": lambda err: emit(ev="error", err=str(err)),
        }
    )
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit(ev="start", pid=os.getpid())

    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds
    while not stop["flag"]:
        if time.monotonic() > deadline or os.getppid() != parent:
            emit(ev="error", err="stopping by itself (max-seconds or parent gone)")
            break
        msg = consumer.poll(0.3)
        if msg is None:
            continue
        if msg.error() is not None:
            emit(ev="error", err=str(msg.error()))
            continue
        p, o = msg.partition(), msg.offset()
        v = msg.value().decode() if msg.value() is not None else None
        emit(ev="P", p=p, o=o, v=v)
        err = None
        try:
            res = consumer.commit(offsets=[TopicPartition(args.topic, p, o + 1)], asynchronous=False)
            for tp in res or []:
                if tp.error is not None:
                    err = str(tp.error)
        except KafkaException as e:
            err = str(e)
        if err is None:
            emit(ev="C", p=p, o=o, v=v)
        else:
            emit(ev="commit_failed", p=p, o=o, err=err)
            time.sleep(0.05)  # the next poll() moves the rebalance on; don't spin
            try:
                consumer.seek(TopicPartition(args.topic, p, o))
            except KafkaException as e:
                emit(ev="seek_failed", p=p, o=o, err=str(e))

    consumer.close()
    emit(ev="closed")
    out.close()


if __name__ == "__main__":
    sys.exit(main())
