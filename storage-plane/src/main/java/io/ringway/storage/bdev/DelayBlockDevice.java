package io.ringway.storage.bdev;

import java.util.SplittableRandom;

/**
 * Wraps another device and holds each completion back by a latency drawn from a distribution, for
 * latency experiments. Requests go to the inner device at once; their completions wait in a fixed
 * array (one entry per queue-depth slot, so nothing grows) until they are due.
 */
public final class DelayBlockDevice implements BlockDevice {
    private final BlockDevice inner;
    private final LatencyDistribution latency;

    public DelayBlockDevice(BlockDevice inner, LatencyDistribution latency) {
        this.inner = inner;
        this.latency = latency;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public String describe() {
        return inner.describe() + ", delayed by " + latency;
    }

    @Override
    public int blockSize() {
        return inner.blockSize();
    }

    @Override
    public long blockCount() {
        return inner.blockCount();
    }

    @Override
    public boolean readOnly() {
        return inner.readOnly();
    }

    @Override
    public boolean supportsDiscard() {
        return inner.supportsDiscard();
    }

    @Override
    public boolean supportsWriteZeroes() {
        return inner.supportsWriteZeroes();
    }

    @Override
    public boolean volatileWriteCache() {
        return inner.volatileWriteCache();
    }

    @Override
    public IoChannel openChannel(int queueDepth, int maxSegments) {
        IoChannel in = inner.openChannel(queueDepth, maxSegments);
        return new DelayChannel(this, in, queueDepth, maxSegments, latency);
    }

    @Override
    public void close() {
        inner.close();
    }

    private static final class DelayChannel extends IoChannel {
        private final IoChannel in;
        private final LatencyDistribution latency;
        private final SplittableRandom random = new SplittableRandom();
        private final int[] tags;
        private final int[] statuses;
        private final long[] due;
        private int held;
        private final CompletionSink holder = this::hold;

        DelayChannel(BlockDevice device, IoChannel in, int queueDepth, int maxSegments, LatencyDistribution latency) {
            super(device, queueDepth, maxSegments);
            this.in = in;
            this.latency = latency;
            tags = new int[queueDepth];
            statuses = new int[queueDepth];
            due = new long[queueDepth];
        }

        private void forward(int r, int tag) {
            // The inner channel has the same depth and validation, so it accepts what we accepted.
            if (r != BlockStatus.OK) {
                complete(tag, BlockStatus.IO_ERROR);
            }
        }

        @Override
        protected void doRead(long offset, SgList sg, int tag) {
            forward(in.read(offset, sg, tag), tag);
        }

        @Override
        protected void doWrite(long offset, SgList sg, int tag) {
            forward(in.write(offset, sg, tag), tag);
        }

        @Override
        protected void doFlush(int tag) {
            forward(in.flush(tag), tag);
        }

        @Override
        protected void doDiscard(long offset, long length, int tag) {
            forward(in.discard(offset, length, tag), tag);
        }

        @Override
        protected void doWriteZeroes(long offset, long length, int tag) {
            forward(in.writeZeroes(offset, length, tag), tag);
        }

        private void hold(int tag, int status) {
            int i = held++;
            tags[i] = tag;
            statuses[i] = status;
            due[i] = System.nanoTime() + latency.sample(random);
        }

        @Override
        protected void reap() {
            in.poll(holder);
            if (held == 0) {
                return;
            }
            long now = System.nanoTime();
            int i = 0;
            while (i < held) {
                if (due[i] - now <= 0) {
                    complete(tags[i], statuses[i]);
                    int last = --held;
                    tags[i] = tags[last];
                    statuses[i] = statuses[last];
                    due[i] = due[last];
                } else {
                    i++;
                }
            }
        }

        @Override
        public void close() {
            in.close();
        }
    }
}
