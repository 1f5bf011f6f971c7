#!/usr/bin/env python3
"""librdkafka (through confluent-kafka) side of capture.sh.

Usage: librdkafka.py BOOTSTRAP TOPIC GROUP INFO_JSON

One producer per codec (none, gzip, snappy, lz4, zstd), each sending one
batch of three fixed records, then a consumer in GROUP that subscribes (so
JoinGroup/SyncGroup), reads them all, commits and leaves. Writes the client
name and version to INFO_JSON. Bounded: every wait has a timeout.
"""
import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
RECORDS_PER_BATCH = 3


def records(codec):
    for i in range(RECORDS_PER_BATCH):
        yield ("key-%d" % i).encode(), \
            ("value-%d codec=%s %s" % (i, codec, "strata golden vector " * 4)).encode(), \
            [("h-index", str(i).encode()), ("h-codec", codec.encode())]


def main():
    bootstrap, topic, group, info_path = sys.argv[1:5]
    lib_version = confluent_kafka.libversion()[0]
    with open(info_path, "w") as f:
        json.dump({"client": "librdkafka", "client_version": lib_version,
                   "library": "confluent-kafka %s (librdkafka %s)" % (confluent_kafka.__version__, lib_version),
                   "codecs": CODECS}, f)

    for codec in CODECS:
        p = Producer({
            "bootstrap.servers": bootstrap,
            "client.id": "strata-vectors-librdkafka",
            "compression.codec": codec,
            "linger.ms": 100,
            "acks": "all",
            "message.timeout.ms": 20000,
        })
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)

        for key, value, headers in records(codec):
            p.produce(topic, value=value, key=key, headers=headers, partition=0, on_delivery=on_delivery)
        left = p.flush(30)
        if left or errors:
            sys.exit("librdkafka: produce %s failed: %d left, %s" % (codec, left, errors))
        print("librdkafka: produced %d records with %s" % (RECORDS_PER_BATCH, codec))

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "client.id": "strata-vectors-librdkafka",
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
    })
    c.subscribe([topic])
    want = RECORDS_PER_BATCH * len(CODECS)
    got = 0
    deadline = time.monotonic() + 40
    while got < want and time.monotonic() < deadline:
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            print("librdkafka: consumer: %s" % msg.error(), file=sys.stderr)
            continue
        got += 1
    if got:
        c.commit(asynchronous=False)
    c.close()
    print("librdkafka: consumed %d of %d records" % (got, want))
    if got < want:
        sys.exit(1)


if __name__ == "__main__":
    main()
