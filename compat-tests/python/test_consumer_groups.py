"""Consumer groups through librdkafka: subscribe(), rebalances, commits.

Two members of one group share a topic's partitions; what they commit is
where a later member of the group resumes; the admin API lists and
describes the group.
"""

import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka import ConsumerGroupState

from support import OP_TIMEOUT, consume_n, unique_topic, wait_for

PARTITIONS = 6


def group_consumer(bootstrap, group, assignor="range"):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "partition.assignment.strategy": assignor,
        }
    )


def produce(bootstrap, topic, per_partition, start=0):
    p = Producer({"bootstrap.servers": bootstrap})
    for part in range(PARTITIONS):
        for i in range(per_partition):
            p.produce(topic, value=f"{part}-{start + i}".encode(), partition=part)
    assert p.flush(OP_TIMEOUT) == 0


def assigned(consumer):
    return {tp.partition for tp in consumer.assignment()}


def test_two_members_split_the_partitions_and_commits_resume(bootstrap, make_topic):
    for assignor in ("range", "cooperative-sticky"):
        topic = make_topic("groups", PARTITIONS)
        group = unique_topic("group")
        c1 = group_consumer(bootstrap, group, assignor)
        c2 = group_consumer(bootstrap, group, assignor)
        c1.subscribe([topic])
        c2.subscribe([topic])

        def split():
            c1.poll(0.2)
            c2.poll(0.2)
            a1, a2 = assigned(c1), assigned(c2)
            return a1 and a2 and not (a1 & a2) and (a1 | a2) == set(range(PARTITIONS))

        wait_for(split, f"two members to split {PARTITIONS} partitions ({assignor})", timeout=30)
        produce(bootstrap, topic, 10)
        seen = []
        deadline = time.monotonic() + 20
        while len(seen) < PARTITIONS * 10 and time.monotonic() < deadline:
            for c in (c1, c2):
                for m in c.consume(num_messages=100, timeout=0.2):
                    assert m.error() is None, m.error()
                    assert m.partition() in assigned(c)
                    seen.append(m.value())
        assert sorted(seen) == sorted(f"{p}-{i}".encode() for p in range(PARTITIONS) for i in range(10))
        for c in (c1, c2):
            c.commit(asynchronous=False)
        committed = c1.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=OP_TIMEOUT)
        assert [tp.offset for tp in committed] == [10] * PARTITIONS
        c1.close()
        c2.close()

        # A new member resumes after the commits: only new records.
        produce(bootstrap, topic, 2, start=10)
        c3 = group_consumer(bootstrap, group, assignor)
        c3.subscribe([topic])
        got = sorted(m.value() for m in consume_n(c3, PARTITIONS * 2))
        assert got == sorted(f"{p}-{i}".encode() for p in range(PARTITIONS) for i in (10, 11))
        c3.close()


def test_admin_lists_and_describes_a_stable_group(bootstrap, admin, make_topic):
    topic = make_topic("describe", PARTITIONS)
    group = unique_topic("group")
    c = group_consumer(bootstrap, group)
    c.subscribe([topic])
    wait_for(lambda: c.poll(0.2) is None and len(assigned(c)) == PARTITIONS, "the assignment", timeout=30)
    try:
        listed = admin.list_consumer_groups(request_timeout=OP_TIMEOUT).result(timeout=OP_TIMEOUT)
        mine = [g for g in listed.valid if g.group_id == group]
        assert len(mine) == 1
        assert mine[0].state == ConsumerGroupState.STABLE
        described = admin.describe_consumer_groups([group], request_timeout=OP_TIMEOUT)[group].result(
            timeout=OP_TIMEOUT
        )
        assert described.state == ConsumerGroupState.STABLE
        assert described.partition_assignor == "range"
        assert len(described.members) == 1
        parts = {tp.partition for tp in described.members[0].assignment.topic_partitions}
        assert parts == set(range(PARTITIONS))
    finally:
        c.close()
