package dev.strata.compat;

import static dev.strata.compat.Compat.OP_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A batch larger than the topic's max.message.bytes: the broker answers
 * MESSAGE_TOO_LARGE, which the client reports as RecordTooLargeException.
 * The producer's own max.request.size is raised so that the check is the
 * broker's, not the client's.
 */
class RecordTooLargeTest {
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

    static KafkaProducer<byte[], byte[]> bigProducer() {
        Properties p = Compat.producerProps("all", "none");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 8 * 1024 * 1024);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 16384);
        return new KafkaProducer<>(p);
    }

    static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    void assertTooLargeThenSmallSucceeds(String topic, int size) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = bigProducer()) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>(topic, 0, null, random(size)))
                            .get(OP_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS));
            assertInstanceOf(RecordTooLargeException.class, e.getCause(), "cause: " + e.getCause());
            // The broker wrote nothing, and the connection still serves.
            RecordMetadata md = producer.send(new ProducerRecord<>(topic, 0, null, random(100)))
                    .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals(0, md.offset(), "the small record after the rejected one");
        }
    }

    @Test
    void recordAboveTopicMaxMessageBytes() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("too-large-topic"), 1,
                Map.of("max.message.bytes", "10000"));
        try {
            assertTooLargeThenSmallSucceeds(topic, 20_000);
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }

    /** Broker default message.max.bytes is 1048588 (1 MiB + 12). */
    @Test
    void recordAboveBrokerDefaultMessageMaxBytes() throws Exception {
        String topic = Compat.createTopic(admin, Compat.uniqueTopic("too-large-default"), 1);
        try {
            assertTooLargeThenSmallSucceeds(topic, 1_100_000);
        } finally {
            Compat.deleteTopicQuietly(admin, topic);
        }
    }
}
