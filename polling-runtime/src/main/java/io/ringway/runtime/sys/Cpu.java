package io.ringway.runtime.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.BitSet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** CPU placement of the calling thread: pinning (sched_setaffinity) and where it runs now (sched_getcpu). */
public final class Cpu {
    // downcalls of this class only: made when it is first used, not in LibC's static initialiser (each
    // distinct signature spins classes, which a `vm boot` that never opens a socket should not pay for)
    private static final MethodHandle SCHED_SETAFFINITY =
        LibC.downcall("sched_setaffinity", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_GETAFFINITY =
        LibC.downcall("sched_getaffinity", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_GETCPU =
        LibC.downcall("sched_getcpu", FunctionDescriptor.of(JAVA_INT));

    /** {@code sizeof(cpu_set_t)} in glibc: a 1024-bit mask. */
    public static final int CPU_SET_SIZE = 128;
    /** The highest CPU number a {@code cpu_set_t} can name, plus one. */
    public static final int MAX_CPUS = CPU_SET_SIZE * Byte.SIZE;

    private Cpu() {
    }

    /**
     * Pins the calling thread (not the process) to one CPU.
     *
     * @param cpu a CPU number in [0, {@link #MAX_CPUS}); it must be online and allowed to this process
     */
    public static void pinCurrentThread(int cpu) {
        if (cpu < 0 || cpu >= MAX_CPUS) {
            throw new IllegalArgumentException("cpu must be in [0, " + MAX_CPUS + "), got " + cpu);
        }
        BitSet set = new BitSet(MAX_CPUS);
        set.set(cpu);
        setAffinity(set, "cpu=" + cpu);
    }

    /**
     * Restricts the calling thread to a set of CPUs.
     *
     * @param cpus CPU numbers, each in [0, {@link #MAX_CPUS}); not empty
     */
    public static void setCurrentThreadAffinity(BitSet cpus) {
        if (cpus.isEmpty() || cpus.length() > MAX_CPUS) {
            throw new IllegalArgumentException("cpu set must be non-empty with CPU numbers below " + MAX_CPUS + ", got " + cpus);
        }
        setAffinity(cpus, "cpus=" + cpus);
    }

    private static void setAffinity(BitSet cpus, String argument) {
        MemorySegment capture = LibC.capture();
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(CPU_SET_SIZE, Long.BYTES);
            long[] words = cpus.toLongArray();
            for (int i = 0; i < words.length; i++) {
                mask.setAtIndex(JAVA_LONG, i, words[i]);
            }
            result = (int) SCHED_SETAFFINITY.invokeExact(capture, 0, (long) CPU_SET_SIZE, mask);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            throw new LinuxException("sched_setaffinity", "pid=0 (this thread), " + argument, LibC.errno(capture));
        }
    }

    /** The CPUs the calling thread may run on (sched_getaffinity). */
    public static BitSet currentThreadAffinity() {
        MemorySegment capture = LibC.capture();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(CPU_SET_SIZE, Long.BYTES);
            int result = (int) SCHED_GETAFFINITY.invokeExact(capture, 0, (long) CPU_SET_SIZE, mask);
            if (result < 0) {
                throw new LinuxException("sched_getaffinity", "pid=0 (this thread)", LibC.errno(capture));
            }
            return BitSet.valueOf(mask.toArray(JAVA_LONG));
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
    }

    /** The CPU the calling thread is running on right now (sched_getcpu); stale as soon as it returns unless pinned. */
    public static int currentCpu() {
        MemorySegment capture = LibC.capture();
        int result;
        try {
            result = (int) SCHED_GETCPU.invokeExact(capture);
        } catch (Throwable t) {
            throw LibC.rethrow(t);
        }
        if (result < 0) {
            throw new LinuxException("sched_getcpu", "", LibC.errno(capture));
        }
        return result;
    }

    /** The number of CPUs online in the machine (sysconf(_SC_NPROCESSORS_ONLN)), regardless of this process's affinity. */
    public static int onlineCpus() {
        return (int) LibC.sysconf(LibC.SC_NPROCESSORS_ONLN);
    }
}
