"""Fetch edge cases through librdkafka: empty partitions, offsets past the end."""

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from support import CONSUME_TIMEOUT, OP_TIMEOUT, consume_n, drain, unique_topic


def make_consumer(bootstrap, **extra):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique_topic("unused-group"),
            "enable.auto.commit": False,
            # The broker holds an empty fetch this long before answering.
            "fetch.wait.max.ms": 500,
            **extra,
        }
    )


def produce(bootstrap, topic, values):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    offsets = []

    def cb(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for v in values:
        producer.produce(topic, value=v, partition=0, on_delivery=cb)
    assert producer.flush(OP_TIMEOUT) == 0
    return offsets


def consume_n_events(consumer, n, timeout=CONSUME_TIMEOUT):
    """Exactly n events, records or errors alike, within timeout."""
    events = []
    deadline = time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        events.extend(consumer.consume(num_messages=n - len(events), timeout=0.5))
    assert len(events) == n, f"got {len(events)} of {n} events within {timeout}s"
    return events


def test_fetch_from_empty_partition_returns_nothing_without_error(bootstrap, make_topic):
    topic = make_topic("empty", 1)
    consumer = make_consumer(bootstrap, **{"enable.partition.eof": True, "auto.offset.reset": "error"})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        # The only event is "reached the end" at offset 0: the fetch answered
        # with no records and high watermark 0, not an error.
        events = consume_n_events(consumer, 1)
        assert [(e.error().code(), e.partition(), e.offset()) for e in events] == [
            (KafkaError._PARTITION_EOF, 0, 0)
        ]
        # Further polls come back empty once their own timeout is up.
        for _ in range(3):
            started = time.monotonic()
            assert consumer.consume(num_messages=10, timeout=1.0) == []
            assert time.monotonic() - started < 5.0
        # A record produced while the consumer waits is delivered.
        assert produce(bootstrap, topic, [b"late"]) == [0]
        (msg,) = consume_n(consumer, 1)
        assert (msg.offset(), msg.value()) == (0, b"late")
    finally:
        consumer.close()


def test_fetch_offset_past_end_with_reset_earliest_restarts_at_zero(bootstrap, make_topic):
    topic = make_topic("reset-earliest", 1)
    assert produce(bootstrap, topic, [b"r0", b"r1", b"r2", b"r3", b"r4"]) == [0, 1, 2, 3, 4]
    consumer = make_consumer(bootstrap, **{"auto.offset.reset": "earliest"})
    try:
        consumer.assign([TopicPartition(topic, 0, 100)])
        got = consume_n(consumer, 5)
        assert [(m.offset(), m.value()) for m in got] == [(i, f"r{i}".encode()) for i in range(5)]
    finally:
        consumer.close()


def test_fetch_offset_past_end_with_reset_latest_waits_at_end(bootstrap, make_topic):
    topic = make_topic("reset-latest", 1)
    assert produce(bootstrap, topic, [b"r0", b"r1", b"r2"]) == [0, 1, 2]
    consumer = make_consumer(bootstrap, **{"auto.offset.reset": "latest", "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, 0, 100)])
        # Offset 100 is out of range; reset to the end, where the partition
        # reports end-of-partition at offset 3 rather than any record.
        (event,) = consume_n_events(consumer, 1)
        assert (event.error().code(), event.offset()) == (KafkaError._PARTITION_EOF, 3)
        assert drain(consumer, 1.0) == []
        assert produce(bootstrap, topic, [b"r3"]) == [3]
        (msg,) = consume_n(consumer, 1)
        assert (msg.offset(), msg.value()) == (3, b"r3")
    finally:
        consumer.close()


def test_fetch_offset_past_end_with_reset_error_reports_it(bootstrap, make_topic):
    topic = make_topic("reset-error", 1)
    assert produce(bootstrap, topic, [b"r0", b"r1"]) == [0, 1]
    consumer = make_consumer(bootstrap, **{"auto.offset.reset": "error"})
    try:
        consumer.assign([TopicPartition(topic, 0, 100)])
        (event,) = consume_n_events(consumer, 1)
        err = event.error()
        assert err is not None
        # The broker answered OFFSET_OUT_OF_RANGE (1); with reset "error"
        # librdkafka hands that to the application as _AUTO_OFFSET_RESET.
        assert err.code() == KafkaError._AUTO_OFFSET_RESET, err
        assert "Broker: Offset out of range" in err.str(), err.str()
        assert event.partition() == 0
    finally:
        consumer.close()
