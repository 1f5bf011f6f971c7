"""Helpers shared by the compat tests: unique names, bounded waits."""

import os
import time
import uuid

# Bounds for every wait, in seconds. Generous: they only end a broken run.
OP_TIMEOUT = 15.0
CONSUME_TIMEOUT = 20.0


def unique_topic(prefix):
    """A topic name no earlier run used, so reruns never collide."""
    return f"compat-{prefix}-{uuid.uuid4().hex[:12]}"


def topic_metadata(admin, topic):
    """The topic's metadata from an all-topics request, or None if absent.

    All topics, not list_topics(topic): asking for one name by name may create
    it on a broker with auto.create.topics.enable=true.
    """
    return admin.list_topics(timeout=OP_TIMEOUT).topics.get(topic)


def wait_for(predicate, what, timeout=OP_TIMEOUT, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def create_topic(admin, topic, partitions, config=None):
    """Create `topic` and wait until every partition has a leader."""
    from confluent_kafka.admin import NewTopic

    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
        request_timeout=OP_TIMEOUT,
    )
    futures[topic].result(timeout=OP_TIMEOUT)

    def ready():
        md = topic_metadata(admin, topic)
        return (
            md is not None
            and md.error is None
            and len(md.partitions) == partitions
            and all(p.leader >= 0 and p.error is None for p in md.partitions.values())
        )

    wait_for(ready, f"{topic} to have {partitions} partitions with leaders")
    wait_partitions_serving(topic, partitions)
    return topic


def wait_partitions_serving(topic, partitions):
    """Wait until the leader answers ListOffsets for every partition.

    Kafka lists a new topic's leader in Metadata a few milliseconds before
    that broker has created the partition's log; a produce in that window
    fails NOT_LEADER_OR_FOLLOWER, which with acks=0 means the broker closes
    the connection and the records are lost without a word.
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"], "group.id": "compat-unused"})
    try:
        for p in range(partitions):

            def serving():
                try:
                    return consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=OP_TIMEOUT, cached=False)
                except KafkaException:
                    return None

            wait_for(serving, f"partition {p} of {topic} to answer ListOffsets")
    finally:
        consumer.close()


def consume_n(consumer, n, timeout=CONSUME_TIMEOUT):
    """Consume exactly n records (failing on any error event) within timeout."""
    records = []
    deadline = time.monotonic() + timeout
    while len(records) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"got {len(records)} of {n} records within {timeout}s")
        for msg in consumer.consume(num_messages=n - len(records), timeout=min(left, 1.0)):
            if msg.error() is not None:
                raise AssertionError(f"consume error: {msg.error()}")
            records.append(msg)
    return records


def drain(consumer, seconds):
    """Everything the consumer returns during `seconds` (errors included)."""
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        out.extend(consumer.consume(num_messages=1000, timeout=min(left, 0.5)))
    return out
