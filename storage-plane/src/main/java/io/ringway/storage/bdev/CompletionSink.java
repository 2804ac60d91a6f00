package io.ringway.storage.bdev;

/**
 * Receives completions from {@link IoChannel#poll(CompletionSink)}, on the lcore that polls. Must not
 * block; called once per submitted request.
 */
@FunctionalInterface
public interface CompletionSink {
    /**
     * @param tag the tag given at submit
     * @param status {@link BlockStatus#OK}, {@link BlockStatus#IO_ERROR} or {@link BlockStatus#UNSUPPORTED}
     */
    void complete(int tag, int status);
}
