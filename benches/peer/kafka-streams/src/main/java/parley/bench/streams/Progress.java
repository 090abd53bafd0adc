package parley.bench.streams;

import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicLong;

/** What the processors have done, shared by every task of the instance and read by Main. */
final class Progress {
    final long expected;
    final AtomicLong processed = new AtomicLong();
    final AtomicLong timersFired = new AtomicLong();
    private final AtomicLong firstNanos = new AtomicLong();
    private volatile long firstCpuNanos;

    Progress(long expected) {
        this.expected = expected;
    }

    /** Counts one input; true once every expected input has been processed. */
    boolean countInput() {
        if (firstNanos.get() == 0 && firstNanos.compareAndSet(0, System.nanoTime())) {
            firstCpuNanos = cpuNanos();
        }
        return processed.incrementAndGet() >= expected;
    }

    boolean allProcessed() {
        return processed.get() >= expected;
    }

    long firstNanos() {
        return firstNanos.get();
    }

    long firstCpuNanos() {
        return firstCpuNanos;
    }

    /** CPU time of the whole process (user and system), in nanoseconds. */
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
