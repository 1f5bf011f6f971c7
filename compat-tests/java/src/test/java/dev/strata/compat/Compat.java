package dev.strata.compat;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Shared setup: the broker (env KAFKA_BOOTSTRAP), client configs with bounded
 * timeouts, unique topic names, and waits that always end.
 */
final class Compat {
    private Compat() {}

    /** Bound for one admin/metadata operation. */
    static final Duration OP_TIMEOUT = Duration.ofSeconds(15);
    /** Bound for reading back everything that was produced. */
    static final Duration CONSUME_TIMEOUT = Duration.ofSeconds(30);

    static String bootstrap() {
        String b = System.getenv("KAFKA_BOOTSTRAP");
        if (b == null || b.isBlank()) {
            fail("KAFKA_BOOTSTRAP is not set: point it at the broker under test, e.g. "
                    + "KAFKA_BOOTSTRAP=127.0.0.1:19092 (compat-tests/java/run.sh passes it through)");
        }
        return b;
    }

    /** A topic name no earlier run used. */
    static String uniqueTopic(String prefix) {
        return "compat-java-" + prefix + "-" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-java-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis() * 2);
        return Admin.create(p);
    }

    static Properties producerProps(String acks, String compression) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-java-producer");
        p.put(ProducerConfig.ACKS_CONFIG, acks);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        // Idempotence stays at the client's default: on (InitProducerId and
        // sequence numbers) with acks=all, implicitly off with acks 0 and 1.
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis() + 5_000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return p;
    }

    static KafkaProducer<byte[], byte[]> producer(String acks, String compression) {
        return new KafkaProducer<>(producerProps(acks, compression));
    }

    /** A consumer without group.id: assign() and seek only, no group APIs. */
    static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-java-consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) OP_TIMEOUT.toMillis());
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 500);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    static <T> T get(KafkaFuture<T> f) throws ExecutionException, InterruptedException, TimeoutException {
        return f.get(OP_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
    }

    /** Polls `probe` every 100 ms until it gives non-null, for at most `timeout`. */
    static <T> T waitFor(String what, Duration timeout, Supplier<T> probe) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Throwable last = null;
        while (true) {
            try {
                T v = probe.get();
                if (v != null) {
                    return v;
                }
            } catch (RuntimeException e) {
                last = e;
            }
            if (System.nanoTime() >= deadline) {
                AssertionError e = new AssertionError("timed out after " + timeout.toSeconds() + "s waiting for " + what
                        + (last == null ? "" : "; last error: " + last));
                if (last != null) {
                    e.initCause(last);
                }
                throw e;
            }
            Thread.sleep(100);
        }
    }

    /**
     * Creates a topic (replication factor 1) and waits until every partition
     * has a leader in Metadata and that leader answers ListOffsets: Kafka
     * lists a new partition's leader a moment before the leader has made its
     * log, and a produce in that window fails (silently with acks=0).
     */
    static String createTopic(Admin admin, String name, int partitions, Map<String, String> configs) throws Exception {
        NewTopic t = new NewTopic(name, partitions, (short) 1);
        if (configs != null) {
            t.configs(configs);
        }
        get(admin.createTopics(List.of(t)).all());
        waitFor(name + " to have " + partitions + " partitions with leaders", OP_TIMEOUT, () -> {
            try {
                TopicDescription d = admin.describeTopics(List.of(name)).allTopicNames()
                        .get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).get(name);
                if (d.partitions().size() != partitions) {
                    return null;
                }
                for (TopicPartitionInfo p : d.partitions()) {
                    if (p.leader() == null || p.leader().isEmpty()) {
                        return null;
                    }
                }
                return d;
            } catch (ExecutionException | TimeoutException e) {
                throw new RuntimeException(e.getCause() != null ? e.getCause() : e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RuntimeException(e);
            }
        });
        List<TopicPartition> tps = partitions(name, partitions);
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            waitFor(name + " partitions to answer ListOffsets", OP_TIMEOUT, () -> {
                Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(2));
                return end.size() == partitions ? end : null;
            });
        }
        return name;
    }

    static String createTopic(Admin admin, String name, int partitions) throws Exception {
        return createTopic(admin, name, partitions, null);
    }

    static void deleteTopicQuietly(Admin admin, String name) {
        try {
            admin.deleteTopics(List.of(name)).all().get(OP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // best effort: names are unique, a leftover topic harms no other test
        }
    }

    static List<TopicPartition> partitions(String topic, int n) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            tps.add(new TopicPartition(topic, i));
        }
        return tps;
    }

    /**
     * Polls until `expected` records per partition have arrived, or
     * CONSUME_TIMEOUT passes; returns what arrived, per partition, in order.
     */
    static Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> consumeAll(
            KafkaConsumer<byte[], byte[]> c, Map<TopicPartition, Integer> expected) {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> got = new HashMap<>();
        for (TopicPartition tp : expected.keySet()) {
            got.put(tp, new ArrayList<>());
        }
        long deadline = System.nanoTime() + CONSUME_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline && !complete(got, expected)) {
            ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(500));
            for (ConsumerRecord<byte[], byte[]> r : recs) {
                got.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayList<>()).add(r);
            }
        }
        return got;
    }

    private static boolean complete(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> got,
            Map<TopicPartition, Integer> expected) {
        for (Map.Entry<TopicPartition, Integer> e : expected.entrySet()) {
            if (got.getOrDefault(e.getKey(), List.of()).size() < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    static Throwable rootCause(Throwable t) {
        return t instanceof ExecutionException && t.getCause() != null ? t.getCause() : t;
    }

    static String describe(Collection<?> c) {
        return c.size() + " " + c;
    }
}
