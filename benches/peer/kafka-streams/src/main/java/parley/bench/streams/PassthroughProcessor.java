package parley.bench.streams;

import java.time.Duration;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/** Forwards every input unchanged: no state, no timer. */
final class PassthroughProcessor implements Processor<Bytes, byte[], Bytes, byte[]> {
    private final Progress progress;
    private ProcessorContext<Bytes, byte[]> context;

    PassthroughProcessor(Progress progress) {
        this.progress = progress;
    }

    @Override
    public void init(ProcessorContext<Bytes, byte[]> context) {
        this.context = context;
        // Once every input is processed, each task asks for a commit (see Main).
        context.schedule(Duration.ofSeconds(1), PunctuationType.WALL_CLOCK_TIME, now -> {
            if (progress.allProcessed()) {
                context.commit();
            }
        });
    }

    @Override
    public void process(Record<Bytes, byte[]> record) {
        context.forward(record);
        if (progress.countInput()) {
            context.commit();
        }
    }
}
