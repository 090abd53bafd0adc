package parley.bench.streams;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per input: read-modify-write of the key's 200-byte state in the persistent store
 * {@value #STATE_STORE}, one output (the new state), and the key's timer (re)set to the input's
 * timestamp plus the delay: its entry in the persistent store {@value #TIMER_STORE}, keyed by
 * due time then record key, replaces the previous one. Both stores log to changelog topics.
 *
 * <p>A wall-clock punctuator scans the timer store every second and, for each entry due by
 * then, emits the key's state (timestamped with the due time, header {@code bench.timer}) and
 * deletes the entry.
 */
final class StatefulProcessor implements Processor<Bytes, byte[], Bytes, byte[]> {
    static final String STATE_STORE = "state";
    static final String TIMER_STORE = "timers";
    private static final byte[] EMPTY = new byte[0];

    private final Progress progress;
    private final long timerDelayMs;
    private ProcessorContext<Bytes, byte[]> context;
    private KeyValueStore<Bytes, byte[]> state;
    private KeyValueStore<Bytes, byte[]> timers;

    StatefulProcessor(Progress progress, long timerDelayMs) {
        this.progress = progress;
        this.timerDelayMs = timerDelayMs;
    }

    @Override
    public void init(ProcessorContext<Bytes, byte[]> context) {
        this.context = context;
        this.state = context.getStateStore(STATE_STORE);
        this.timers = context.getStateStore(TIMER_STORE);
        context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME, this::fireDue);
    }

    @Override
    public void process(Record<Bytes, byte[]> record) {
        Bytes key = record.key();
        byte[] old = state.get(key);
        byte[] next = BenchState.update(old, record.value(), record.timestamp(), timerDelayMs);
        state.put(key, next);
        if (old != null) {
            timers.delete(Bytes.wrap(BenchState.timerKey(BenchState.due(old), key.get())));
        }
        timers.put(Bytes.wrap(BenchState.timerKey(BenchState.due(next), key.get())), EMPTY);
        context.forward(record.withValue(next));
        if (progress.countInput()) {
            context.commit();
        }
    }

    private void fireDue(long now) {
        List<byte[]> due = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> it =
                timers.range(Bytes.wrap(BenchState.duePrefix(Long.MIN_VALUE)), Bytes.wrap(BenchState.duePrefix(now + 1)))) {
            while (it.hasNext()) {
                KeyValue<Bytes, byte[]> entry = it.next();
                if (BenchState.dueOf(entry.key.get()) <= now) {
                    due.add(entry.key.get());
                }
            }
        }
        for (byte[] timerKey : due) {
            byte[] key = new byte[timerKey.length - 8];
            System.arraycopy(timerKey, 8, key, 0, key.length);
            byte[] current = state.get(Bytes.wrap(key));
            if (current != null) {
                RecordHeaders headers = new RecordHeaders();
                headers.add("bench.timer", new byte[] {'1'});
                context.forward(new Record<>(Bytes.wrap(key), current, BenchState.dueOf(timerKey), headers));
                progress.timersFired.incrementAndGet();
            }
            timers.delete(Bytes.wrap(timerKey));
        }
        if (progress.allProcessed()) {
            context.commit();
        }
    }
}
