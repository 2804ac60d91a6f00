package io.ringway.runtime.stats;

import org.agrona.concurrent.status.CountersReader;

/**
 * Layout of a process's stats file: a fixed header, then Agrona's counters metadata and values
 * buffers, so that another process can map the file and read every counter without stopping the
 * writer.
 *
 * <pre>
 *   0                   8       12      16                  24      28      32      36
 *   +-------------------+-------+-------+-------------------+-------+-------+-------+----
 *   | magic "RINGWAY1"  |version|  pid  | start (epoch ms)  | meta  |values | ready |
 *   |                   |       |       |                   |  len  |  len  | flag  |
 *   +-------------------+-------+-------+-------------------+-------+-------+-------+----
 *  64 +-------+-------------------------------------------------------------------------+
 *     | cmd   | command line of the process, UTF-8, up to COMMAND_MAX bytes            |
 *     | len   |                                                                         |
 * 512 +-------+-------------------------------------------------------------------------+
 *     | counters metadata: maxCounters x CountersReader.METADATA_LENGTH                 |
 *     +---------------------------------------------------------------------------------+
 *     | counter values: maxCounters x CountersReader.COUNTER_LENGTH                     |
 *     +---------------------------------------------------------------------------------+
 * </pre>
 *
 * The writer fills the header and both buffers, then stores the ready flag with release; a reader
 * that sees {@code ready == 1} (acquire) may trust the lengths.
 */
public final class StatsFileDescriptor {
    /** "RINGWAY1" as a little-endian long. */
    public static final long MAGIC = 0x3159415747_4E4952L;
    public static final int VERSION = 1;

    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 8;
    public static final int PID_OFFSET = 12;
    public static final int START_TIME_OFFSET = 16;
    public static final int METADATA_LENGTH_OFFSET = 24;
    public static final int VALUES_LENGTH_OFFSET = 28;
    public static final int READY_OFFSET = 32;
    public static final int COMMAND_LENGTH_OFFSET = 64;
    public static final int COMMAND_OFFSET = 68;
    public static final int COMMAND_MAX = 512 - COMMAND_OFFSET;
    public static final int HEADER_LENGTH = 512;

    private StatsFileDescriptor() {
    }

    /** Bytes of the metadata buffer for {@code maxCounters} counters. */
    public static int metadataLength(int maxCounters) {
        return maxCounters * CountersReader.METADATA_LENGTH;
    }

    /** Bytes of the values buffer for {@code maxCounters} counters. */
    public static int valuesLength(int maxCounters) {
        return maxCounters * CountersReader.COUNTER_LENGTH;
    }

    /** Total file length for {@code maxCounters} counters. */
    public static int fileLength(int maxCounters) {
        return HEADER_LENGTH + metadataLength(maxCounters) + valuesLength(maxCounters);
    }
}
