package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static dev.strata.compat.Compat.admin;
import static dev.strata.compat.Compat.bootstrap;
import static dev.strata.compat.Compat.createTopic;
import static dev.strata.compat.Compat.deleteTopicQuietly;
import static dev.strata.compat.Compat.get;
import static dev.strata.compat.Compat.producer;
import static dev.strata.compat.Compat.uniqueTopic;
import static dev.strata.compat.Compat.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;

/**
 * The consumer group protocol of KIP-848 (group.protocol=consumer): two
 * consumers share a 6-partition topic through server-side assignment, every
 * record is consumed exactly once with synchronous commits after each poll,
 * and when one consumer closes (leaving the group) the other gets all six
 * partitions and reads on from the committed offsets.
 *
 * Runs with kafka-clients 4.x only: in 3.9 the protocol is an early-access
 * preview. With the broker's default heartbeat interval (5 s) a rebalance
 * takes a few heartbeats, so the waits here are generous.
 */
class ConsumerProtocolTest {
    private static final int PARTITIONS = 6;
    private static final int PER_PARTITION = 50;
    private static final Duration REBALANCE_TIMEOUT = Duration.ofSeconds(40);

    private static KafkaConsumer<byte[], byte[]> groupConsumer(String group, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 200);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /** Polls once, records what came (failing on a record seen before), commits it. */
    private static int pollAndCommit(KafkaConsumer<byte[], byte[]> c, Map<String, String> seen, String who) {
        ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(100));
        for (ConsumerRecord<byte[], byte[]> r : recs) {
            String key = r.partition() + "@" + r.offset();
            String before = seen.put(key, who);
            assertTrue(before == null, key + " consumed twice: by " + before + " and " + who);
            assertEquals("v-" + r.partition() + "-" + r.offset(), new String(r.value(), StandardCharsets.UTF_8));
        }
        if (!recs.isEmpty()) {
            c.commitSync(OP_TIMEOUT);
        }
        return recs.count();
    }

    private static void produce(String topic, int from, int count) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer("all", "none")) {
            for (int part = 0; part < PARTITIONS; part++) {
                for (int i = from; i < from + count; i++) {
                    byte[] v = ("v-" + part + "-" + i).getBytes(StandardCharsets.UTF_8);
                    p.send(new ProducerRecord<>(topic, part, null, v));
                }
            }
            p.flush();
        }
    }

    /** kafka-clients' own version file (see VersionTest). */
    private static String clientVersion() throws Exception {
        Properties props = new Properties();
        try (InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in != null) {
                props.load(in);
            }
        }
        return props.getProperty("version", "");
    }

    @Test
    void twoConsumersShareSixPartitionsThenOneTakesAll() throws Exception {
        assumeTrue(!clientVersion().startsWith("3."),
                "group.protocol=consumer is an early-access preview in kafka-clients 3.x");
        String topic = uniqueTopic("kip848");
        String group = "compat-java-kip848-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = admin()) {
            createTopic(admin, topic, PARTITIONS);
            Map<String, String> seen = new HashMap<>();
            try (KafkaConsumer<byte[], byte[]> c1 = groupConsumer(group, "compat-java-kip848-1")) {
                try (KafkaConsumer<byte[], byte[]> c2 = groupConsumer(group, "compat-java-kip848-2")) {
                    c1.subscribe(List.of(topic));
                    c2.subscribe(List.of(topic));
                    // Both members settle on three partitions each, disjoint.
                    waitFor("both consumers to own three partitions", REBALANCE_TIMEOUT, () -> {
                        pollAndCommit(c1, seen, "c1");
                        pollAndCommit(c2, seen, "c2");
                        Set<TopicPartition> a1 = c1.assignment();
                        Set<TopicPartition> a2 = c2.assignment();
                        boolean split = a1.size() == 3 && a2.size() == 3 && a1.stream().noneMatch(a2::contains);
                        return split ? Boolean.TRUE : null;
                    });
                    produce(topic, 0, PER_PARTITION);
                    int total = PARTITIONS * PER_PARTITION;
                    waitFor("all " + total + " records consumed", REBALANCE_TIMEOUT, () -> {
                        pollAndCommit(c1, seen, "c1");
                        pollAndCommit(c2, seen, "c2");
                        return seen.size() >= total ? Boolean.TRUE : null;
                    });
                    assertEquals(total, seen.size());
                    assertTrue(seen.containsValue("c1") && seen.containsValue("c2"), "both consumed");
                    Map<TopicPartition, OffsetAndMetadata> committed =
                            get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
                    assertEquals(PARTITIONS, committed.size(), "a commit per partition: " + committed);
                    for (OffsetAndMetadata o : committed.values()) {
                        assertEquals(PER_PARTITION, o.offset(), "committed: " + committed);
                    }
                }
                // c2 closed (left the group): c1 gets all six partitions.
                waitFor("c1 to own all six partitions", REBALANCE_TIMEOUT, () -> {
                    pollAndCommit(c1, seen, "c1");
                    return c1.assignment().size() == PARTITIONS ? Boolean.TRUE : null;
                });
                produce(topic, PER_PARTITION, 10);
                int total = PARTITIONS * (PER_PARTITION + 10);
                waitFor("the new records consumed by c1", REBALANCE_TIMEOUT, () -> {
                    pollAndCommit(c1, seen, "c1");
                    return seen.size() >= total ? Boolean.TRUE : null;
                });
                assertEquals(total, seen.size(), "nothing consumed twice or skipped");
            }
        } finally {
            try (Admin admin = admin()) {
                deleteTopicQuietly(admin, topic);
            }
        }
    }
}
