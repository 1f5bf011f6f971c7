// Java client (kafka-clients) side of capture.sh, run as a single-file
// source program on the classpath of compat-tests/apache-kafka.sh:
//
//   java -cp "$(compat-tests/apache-kafka.sh classpath)" Capture.java BOOTSTRAP TOPIC GROUP INFO_JSON
//
// One producer per codec (none, gzip, snappy, lz4, zstd), each sending one
// batch of three fixed records, then a KafkaConsumer in GROUP (classic group
// protocol, so JoinGroup/SyncGroup) that reads them all, commits and leaves.
// Writes the client name and version to INFO_JSON. Bounded: every wait has a
// timeout.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Capture {
    static final List<String> CODECS = List.of("none", "gzip", "snappy", "lz4", "zstd");
    static final int RECORDS_PER_BATCH = 3;

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2], infoPath = args[3];
        Properties versionProps = new Properties();
        try (var in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            versionProps.load(in);
        }
        String version = versionProps.getProperty("version");
        Files.writeString(Path.of(infoPath), String.format(
            "{\"client\": \"java\", \"client_version\": \"%s\", \"library\": \"kafka-clients %s on Java %s\", "
                + "\"codecs\": [\"none\", \"gzip\", \"snappy\", \"lz4\", \"zstd\"]}",
            version, version, System.getProperty("java.version")));

        for (String codec : CODECS) {
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            p.put("client.id", "strata-vectors-java");
            p.put("compression.type", codec);
            p.put("linger.ms", "100");
            p.put("acks", "all");
            p.put("delivery.timeout.ms", "20000");
            p.put("request.timeout.ms", "15000");
            p.put("max.block.ms", "20000");
            p.put("key.serializer", ByteArraySerializer.class.getName());
            p.put("value.serializer", ByteArraySerializer.class.getName());
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
                var futures = new java.util.ArrayList<java.util.concurrent.Future<?>>();
                for (int i = 0; i < RECORDS_PER_BATCH; i++) {
                    var rec = new ProducerRecord<>(topic, 0, utf8("key-" + i),
                        utf8("value-" + i + " codec=" + codec + " " + "strata golden vector ".repeat(4)));
                    rec.headers().add(new RecordHeader("h-index", utf8(Integer.toString(i))));
                    rec.headers().add(new RecordHeader("h-codec", utf8(codec)));
                    futures.add(producer.send(rec));
                }
                producer.flush();
                for (var f : futures) f.get(20, TimeUnit.SECONDS);
            }
            System.out.println("java: produced " + RECORDS_PER_BATCH + " records with " + codec);
        }

        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("client.id", "strata-vectors-java");
        c.put("group.id", group);
        c.put("group.protocol", "classic");
        c.put("auto.offset.reset", "earliest");
        c.put("enable.auto.commit", "false");
        c.put("session.timeout.ms", "10000");
        c.put("default.api.timeout.ms", "20000");
        c.put("key.deserializer", ByteArrayDeserializer.class.getName());
        c.put("value.deserializer", ByteArrayDeserializer.class.getName());
        int want = RECORDS_PER_BATCH * CODECS.size(), got = 0;
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c);
        try {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            while (got < want && System.nanoTime() < deadline) {
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofSeconds(1));
                got += recs.count();
            }
            if (got > 0) consumer.commitSync(Duration.ofSeconds(20));
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(20))); // LeaveGroup
        }
        System.out.println("java: consumed " + got + " of " + want + " records");
        if (got < want) System.exit(1);
    }
}
