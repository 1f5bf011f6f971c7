package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.InvalidTimestampException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Topic configs set at CreateTopics that the broker enforces on Produce. */
class TopicConfigTest {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Compat.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) {
            admin.close(OP_TIMEOUT);
        }
    }

    /** retries=0: a retriable error (NOT_ENOUGH_REPLICAS) comes back at once. */
    static KafkaProducer<byte[], byte[]> producer(String acks) {
        Properties p = Compat.producerProps(acks, "none");
        p.put(ProducerConfig.RETRIES_CONFIG, 0);
        return new KafkaProducer<>(p);
    }

    static RecordMetadata send(KafkaProducer<byte[], byte[]> p, ProducerRecord<byte[], byte[]> r) throws Exception {
        return p.send(r).get(OP_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Kafka caps min.insync.replicas at the replica count (its "effective
     * min ISR"), so on a one-replica topic acks=all succeeds even with
     * min.insync.replicas=2.
     */
    @Test
    void minInsyncReplicasIsCappedAtReplicationFactor() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("cfg-min-isr"), 1, Map.of("min.insync.replicas", "2"));
        try {
            try (KafkaProducer<byte[], byte[]> p = producer("all")) {
                assertEquals(0, send(p, new ProducerRecord<>(topic, 0, null, b("v"))).offset(), "acks=all record");
            }
            try (KafkaProducer<byte[], byte[]> p = producer("1")) {
                assertEquals(1, send(p, new ProducerRecord<>(topic, 0, null, b("v"))).offset(), "acks=1 record");
            }
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void timestampOutsideBeforeAndAfterMaxMsIsRejected() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("cfg-ts"), 1,
                Map.of("message.timestamp.before.max.ms", "3600000", "message.timestamp.after.max.ms", "3600000"));
        long now = System.currentTimeMillis();
        try (KafkaProducer<byte[], byte[]> p = producer("1")) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> send(p, new ProducerRecord<>(topic, 0, now - 2 * 3600_000L, null, b("old"))));
            assertInstanceOf(InvalidTimestampException.class, e.getCause(), "2 h old; cause: " + e.getCause());
            e = assertThrows(ExecutionException.class,
                    () -> send(p, new ProducerRecord<>(topic, 0, now + 2 * 3600_000L, null, b("future"))));
            assertInstanceOf(InvalidTimestampException.class, e.getCause(), "2 h ahead; cause: " + e.getCause());
            assertEquals(0, send(p, new ProducerRecord<>(topic, 0, now - 60_000L, null, b("ok"))).offset(),
                    "a minute old is accepted, and is the first record");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    @Test
    void compactedTopicRejectsRecordsWithoutKey() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("cfg-compact"), 1, Map.of("cleanup.policy", "compact"));
        try (KafkaProducer<byte[], byte[]> p = producer("1")) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> send(p, new ProducerRecord<>(topic, 0, null, b("no key"))));
            assertInstanceOf(InvalidRecordException.class, e.getCause(), "null key; cause: " + e.getCause());
            assertEquals(0, send(p, new ProducerRecord<>(topic, 0, b("k"), b("keyed"))).offset(), "a keyed record");
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }
}
