package parley.bench.streams;

import java.nio.ByteBuffer;

/**
 * The per-key state of the benchmark's stateful topology: 200 bytes, the same layout and
 * update as the parley processor of {@code benches/benches/vs_kafka_streams.rs}, so that both
 * emit byte-identical records for the same input.
 *
 * <pre>
 *   0..8    inputs seen for the key (big-endian u64)
 *   8..16   timestamp of the first input (ms)
 *   16..24  timestamp of the last input (ms)
 *   24..32  due time of the key's timer: last input's timestamp + the timer delay (ms)
 *   32..40  FNV-1a 64 over every input value of the key, in order
 *   40..200 the last input value, cut to 160 bytes, zero-padded
 * </pre>
 */
final class BenchState {
    static final int SIZE = 200;
    static final int TAIL = 40;
    static final long FNV_OFFSET = 0xcbf29ce484222325L;
    static final long FNV_PRIME = 0x100000001b3L;

    private BenchState() {}

    /** The next state after {@code value} at {@code timestamp}; {@code old} is null for a new key. */
    static byte[] update(byte[] old, byte[] value, long timestamp, long timerDelayMs) {
        byte[] next = new byte[SIZE];
        ByteBuffer out = ByteBuffer.wrap(next);
        long count = 1;
        long first = timestamp;
        long hash = FNV_OFFSET;
        if (old != null) {
            ByteBuffer in = ByteBuffer.wrap(old);
            count = in.getLong(0) + 1;
            first = in.getLong(8);
            hash = in.getLong(32);
        }
        for (byte b : value) {
            hash ^= b & 0xff;
            hash *= FNV_PRIME;
        }
        out.putLong(0, count);
        out.putLong(8, first);
        out.putLong(16, timestamp);
        out.putLong(24, timestamp + timerDelayMs);
        out.putLong(32, hash);
        System.arraycopy(value, 0, next, TAIL, Math.min(value.length, SIZE - TAIL));
        return next;
    }

    /** The due time of the key's timer. */
    static long due(byte[] state) {
        return ByteBuffer.wrap(state).getLong(24);
    }

    /**
     * The timer store's key: the due time as 8 bytes whose byte order is the time order (sign
     * bit flipped, big-endian), then the record key; a range scan yields timers by due time.
     */
    static byte[] timerKey(long due, byte[] key) {
        byte[] out = new byte[8 + key.length];
        ByteBuffer.wrap(out).putLong(0, due ^ Long.MIN_VALUE);
        System.arraycopy(key, 0, out, 8, key.length);
        return out;
    }

    /** The 8-byte prefix of every timer due at {@code due}. */
    static byte[] duePrefix(long due) {
        byte[] out = new byte[8];
        ByteBuffer.wrap(out).putLong(0, due ^ Long.MIN_VALUE);
        return out;
    }

    /** The due time of a timer store key. */
    static long dueOf(byte[] timerKey) {
        return ByteBuffer.wrap(timerKey).getLong(0) ^ Long.MIN_VALUE;
    }
}
