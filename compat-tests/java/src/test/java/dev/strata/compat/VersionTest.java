package dev.strata.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.InputStream;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Test;

/** The run is with the kafka-clients version it says (-Dkafka.version). */
class VersionTest {
    @Test
    void clientVersionIsTheOneAskedFor() throws Exception {
        // kafka-clients' own version file (AppInfoParser moved package in 4.0).
        Properties props = new Properties();
        try (InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            assertNotNull(in, "kafka/kafka-version.properties in kafka-clients");
            props.load(in);
        }
        assertEquals(System.getProperty("compat.kafka.version"), props.getProperty("version"),
                "kafka-clients on the test classpath");
        System.out.println("kafka-clients " + props.getProperty("version") + " against " + Compat.bootstrap());
    }
}
