package parley.bench.streams;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.state.Stores;

/**
 * Runs one topology of the side-by-side benchmark until the expected number of inputs is
 * processed and their offsets are committed, then prints one result line and exits.
 *
 * <pre>
 * java -jar parley-peer-kafka-streams.jar BOOTSTRAP TOPOLOGY GUARANTEE INPUT OUTPUT APP_ID STATE_DIR EXPECTED [NAME=VALUE ...]
 *
 *   TOPOLOGY   stateful | passthrough
 *   GUARANTEE  at_least_once | exactly_once_v2 (processing.guarantee)
 *   NAME=VALUE timer.delay.ms=N (the stateful topology's timer delay, default one hour);
 *              any other pair is a Kafka Streams setting (e.g. commit.interval.ms=100)
 * </pre>
 *
 * <p>Output on stdout, one line each: {@code ready} once the instance is RUNNING (partitions
 * assigned, stores open), then {@code result records=N seconds=S cpu_seconds=C timers_fired=T
 * commits=K commit_ms=M}: seconds and cpu_seconds (the process's user and system CPU) run from
 * the first input processed until the application's committed offsets on the input topic cover
 * every input; K and M are the stream thread's commit count and Kafka Streams' mean commit
 * time over its recent sample window. The input topic's partitions must start at offset 0.
 * Once every input is processed, each task requests a commit
 * ({@code ProcessorContext.commit()}), so that the end does not wait for the next
 * {@code commit.interval.ms} (30 s by default under at_least_once).
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        if (args.length < 8) {
            System.err.println(
                    "usage: BOOTSTRAP TOPOLOGY GUARANTEE INPUT OUTPUT APP_ID STATE_DIR EXPECTED [NAME=VALUE ...]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topologyName = args[1];
        String guarantee = args[2];
        String input = args[3];
        String output = args[4];
        String appId = args[5];
        String stateDir = args[6];
        long expected = Long.parseLong(args[7]);
        long timerDelayMs = 3_600_000L;

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // The topologies have no global store; enabling the handler there only silences the
        // start-up warning that asks for it.
        props.put("processing.exception.handler.global.enabled", "true");
        switch (guarantee) {
            case StreamsConfig.AT_LEAST_ONCE, StreamsConfig.EXACTLY_ONCE_V2 ->
                    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
            default -> usage("GUARANTEE must be at_least_once or exactly_once_v2, not " + guarantee);
        }
        for (int i = 8; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                usage("expected NAME=VALUE, not " + args[i]);
            }
            String name = args[i].substring(0, eq);
            String value = args[i].substring(eq + 1);
            if (name.equals("timer.delay.ms")) {
                timerDelayMs = Long.parseLong(value);
            } else {
                props.put(name, value);
            }
        }

        Progress progress = new Progress(expected);
        Topology topology = topology(topologyName, input, output, progress, timerDelayMs);
        KafkaStreams streams = new KafkaStreams(topology, props);
        AtomicBoolean ready = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING && ready.compareAndSet(false, true)) {
                System.out.println("ready");
                System.out.flush();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();

        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (!progress.allProcessed()) {
            check(failure, deadline, progress);
            Thread.sleep(1);
        }
        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminProps)) {
            while (committed(admin, appId, input) < expected) {
                check(failure, deadline, progress);
                Thread.sleep(20);
            }
        }
        long doneNanos = System.nanoTime();
        long doneCpu = Progress.cpuNanos();
        System.out.printf(
                "result records=%d seconds=%.6f cpu_seconds=%.6f timers_fired=%d commits=%.0f commit_ms=%.3f%n",
                progress.processed.get(),
                (doneNanos - progress.firstNanos()) / 1e9,
                (doneCpu - progress.firstCpuNanos()) / 1e9,
                progress.timersFired.get(),
                threadMetric(streams, "commit-total"),
                threadMetric(streams, "commit-latency-avg"));
        System.out.flush();
        streams.close(Duration.ofSeconds(60));
        System.exit(0);
    }

    private static Topology topology(
            String name, String input, String output, Progress progress, long timerDelayMs) {
        Topology topology = new Topology();
        topology.addSource("input", Serdes.Bytes().deserializer(), Serdes.ByteArray().deserializer(), input);
        switch (name) {
            case "stateful" -> {
                topology.addProcessor("work", () -> new StatefulProcessor(progress, timerDelayMs), "input");
                topology.addStateStore(
                        Stores.keyValueStoreBuilder(
                                Stores.persistentKeyValueStore(StatefulProcessor.STATE_STORE),
                                Serdes.Bytes(),
                                Serdes.ByteArray()),
                        "work");
                topology.addStateStore(
                        Stores.keyValueStoreBuilder(
                                Stores.persistentKeyValueStore(StatefulProcessor.TIMER_STORE),
                                Serdes.Bytes(),
                                Serdes.ByteArray()),
                        "work");
            }
            case "passthrough" -> topology.addProcessor("work", () -> new PassthroughProcessor(progress), "input");
            default -> usage("TOPOLOGY must be stateful or passthrough, not " + name);
        }
        topology.addSink("output", output, Serdes.Bytes().serializer(), Serdes.ByteArray().serializer(), "work");
        return topology;
    }

    /**
     * The stream thread's metric {@code name} (group {@code stream-thread-metrics}); NaN when
     * it has none. {@code commit-latency-avg} is Kafka Streams' own mean over its recent
     * sample window, in ms.
     */
    private static double threadMetric(KafkaStreams streams, String name) {
        for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
            if (e.getKey().name().equals(name) && e.getKey().group().equals("stream-thread-metrics")
                    && e.getValue().metricValue() instanceof Number value) {
                return value.doubleValue();
            }
        }
        return Double.NaN;
    }

    /** The sum of the application's committed offsets over the input topic's partitions. */
    private static long committed(Admin admin, String appId, String input) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets =
                admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
        long sum = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            if (e.getKey().topic().equals(input) && e.getValue() != null) {
                sum += e.getValue().offset();
            }
        }
        return sum;
    }

    private static void check(AtomicReference<Throwable> failure, long deadline, Progress progress) {
        Throwable e = failure.get();
        if (e != null) {
            System.err.println("kafka streams failed: " + e);
            e.printStackTrace();
            System.exit(1);
        }
        if (System.nanoTime() > deadline) {
            System.err.printf(
                    "not done within 10 minutes: %d of %d inputs processed%n",
                    progress.processed.get(), progress.expected);
            System.exit(1);
        }
    }

    private static void usage(String message) {
        System.err.println(message);
        System.exit(2);
    }
}
