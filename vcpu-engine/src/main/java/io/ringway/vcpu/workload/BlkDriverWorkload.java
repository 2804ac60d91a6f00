package io.ringway.vcpu.workload;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;

import io.ringway.runtime.poll.IdlePolicy;
import io.ringway.runtime.poll.Lcore;
import io.ringway.runtime.mem.SharedRegion;
import io.ringway.storage.bdev.BlockDevice;
import io.ringway.storage.blk.VirtioBlkDevice;
import io.ringway.vcpu.bench.KvmFlavour;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.ExitStats;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.exit.VcpuRunner;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.Vcpu;
import io.ringway.vcpu.virtio.VirtioMmioTransport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The {@code blk-driver} workload: a CPL-3 micro-guest runs {@link BlkDriverProgram} against a
 * Ringway {@link VirtioBlkDevice} behind the {@link VirtioMmioTransport}, the device served by its
 * own lcore, kicks through an ioeventfd and completions through an irqfd.
 *
 * <p>The host watches the run: it sets the guest's stop flag when the duration is over, or when no
 * request completed for {@link Options#stallMillis()} (a device that stopped answering), and stops
 * the vCPU if the guest does not report within a second after that. A run never hangs.
 */
public final class BlkDriverWorkload {
    /** The GSI of the first device's irqfd: an IOAPIC-only line, above the PIC's 16. */
    public static final int FIRST_GSI = 16;
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final long MAX_LATENCY_ENTRIES = 1L << 20;

    /**
     * @param requests    requests to run (write/read pairs; 0 with a duration)
     * @param durationMillis run this long instead (when requests is 0)
     * @param memoryBytes guest memory (at least 6 MiB: the latency array starts at 4 MiB)
     * @param dataBytes   bytes per request
     * @param verify      compare read data in the guest (needs a bdev that keeps data: malloc, file)
     * @param idle        the device lcore's idle policy
     * @param lcoreCpu    CPU to pin the device lcore to, -1 for none
     * @param stallMillis give up after this long without a completion
     * @param hugepages   back guest memory with 2 MiB huge pages (falls back with a warning when none are free)
     */
    public record Options(long requests, long durationMillis, long memoryBytes, int dataBytes, boolean verify,
                          IdlePolicy idle, int lcoreCpu, long stallMillis, boolean hugepages) {
        public Options {
            if (requests < 0 || durationMillis < 0 || (requests == 0) == (durationMillis == 0)) {
                throw new IllegalArgumentException("give either a request count or a duration, got requests=" + requests
                    + " duration=" + durationMillis + " ms");
            }
            if (memoryBytes < BlkDriverProgram.LATENCIES + (2L << 20)) {
                throw new IllegalArgumentException("the blk-driver guest needs at least " + ((BlkDriverProgram.LATENCIES >> 20) + 2)
                    + " MiB of memory, got " + memoryBytes + " bytes");
            }
        }

        /** {@code requests} requests of 512 bytes with data checks, adaptive idle, 16 MiB. */
        public static Options requests(long requests) {
            return new Options(requests, 0, 16L << 20, 512, true, IdlePolicy.adaptive(), -1, 5_000, false);
        }
    }

    /**
     * What a run did.
     *
     * @param completed      requests completed
     * @param kicks          QueueNotify writes by the guest
     * @param mmioExits      MMIO exits to userspace (the negotiation's, if all went right)
     * @param negotiationMmioAccesses MMIO register accesses the program makes before its loop
     * @param notifyExits    QueueNotify writes that reached userspace (0 with the ioeventfd)
     * @param interrupts     irqfd signals by the transport
     * @param guestNanos     per-request latency from the guest's rdtsc, in ns (the last 2^20 requests at most)
     * @param guestSeconds   the loop's duration from the guest's TSC
     * @param hostSeconds    wall time of the vCPU run as the host saw it (includes set-up exits)
     * @param tscKhz         the guest TSC frequency KVM reported
     * @param flavour        which KVM ran it
     * @param run            how the vCPU run ended
     * @param error          null, or what the guest (or the transport) reported
     * @param seed           the data pattern seed
     * @param sectorMask     pair j used block (j &amp; sectorMask)
     * @param dataBytes      bytes per request (one block)
     */
    public record Result(long completed, long kicks, long mmioExits, int negotiationMmioAccesses, long notifyExits,
                         long interrupts, Histogram guestNanos, double guestSeconds, double hostSeconds, long tscKhz,
                         KvmFlavour flavour, RunResult run, String error, long seed, long sectorMask, int dataBytes) {
        /** Requests per second over the guest's loop. */
        public double requestsPerSecond() {
            return guestSeconds > 0 ? completed / guestSeconds : 0;
        }
    }

    private BlkDriverWorkload() {
    }

    /** Runs the workload on {@code bdev} (not closed here). */
    public static Result run(Kvm kvm, BlockDevice bdev, Options o) {
        kvm.requireExtension(KvmApi.KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
        kvm.requireExtension(KvmApi.KVM_CAP_IRQFD, "KVM_CAP_IRQFD");
        kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
        kvm.requireExtension(KvmApi.KVM_CAP_IOEVENTFD_NO_LENGTH, "KVM_CAP_IOEVENTFD_NO_LENGTH");
        long sectorsPerRequest = o.dataBytes() / 512;
        long blocks = (bdev.capacityBytes() / 512) / sectorsPerRequest;
        if (blocks < 1) {
            throw new IllegalArgumentException("block device " + bdev.describe() + " is smaller than one request of " + o.dataBytes() + " bytes");
        }
        long sectorMask = Long.highestOneBit(Math.min(blocks, 1L << 16)) - 1;
        long latencyEntries = Math.min(MAX_LATENCY_ENTRIES, Long.highestOneBit((o.memoryBytes() - BlkDriverProgram.LATENCIES) / 8));
        long seed = 0x5157_4e47_0000_0000L ^ System.nanoTime() << 16;

        BlkDriverProgram program = BlkDriverProgram.build(MicroGuest.MMIO_BASE, o.dataBytes());
        try (MicroGuest guest = MicroGuest.create(kvm, o.memoryBytes(),
                SharedRegion.Options.defaults().hugepages(o.hugepages()))) {
            guest.vm().createIrqchip();
            MemorySegment mem = guest.memory();
            guest.load(MicroGuest.CODE, program.code());
            long r = BlkDriverProgram.RESULTS;
            mem.set(JAVA_LONG, r + GuestResults.REQUESTS, o.requests());
            mem.set(JAVA_LONG, r + GuestResults.SECTOR_MASK, sectorMask);
            mem.set(JAVA_LONG, r + GuestResults.SEED, seed);
            mem.set(JAVA_LONG, r + GuestResults.VERIFY, o.verify() ? 1 : 0);
            mem.set(JAVA_LONG, r + GuestResults.LATENCY_MASK, latencyEntries - 1);

            Lcore lcore = Lcore.builder("vm-blk0").idlePolicy(o.idle()).cpu(o.lcoreCpu()).start();
            try (VirtioBlkDevice device = VirtioBlkDevice.builder(bdev).name("vm-blk0").build()) {
                MmioBus mmio = new MmioBus();
                IoBus io = new IoBus();
                VirtioMmioTransport transport = new VirtioMmioTransport("blk0", device, guest.vm(), MicroGuest.MMIO_BASE, FIRST_GSI, lcore);
                try {
                    transport.attach(mmio);
                    Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
                    long tscKhz = vcpu.tscKhz();
                    VcpuRunner runner = new VcpuRunner(vcpu, io, mmio, new ExitStats());
                    io.register("done", BlkDriverProgram.DONE_PORT, 1, new BusDevice() {
                        @Override
                        public long read(long offset, int size) {
                            return 0;
                        }

                        @Override
                        public void write(long offset, int size, long value) {
                            runner.finish();
                        }
                    });
                    long t0 = System.nanoTime();
                    CompletableFuture<RunResult> done = runner.start("vcpu-0 blk-driver");
                    RunResult run = watch(done, runner, mem, o, t0);
                    double hostSeconds = (System.nanoTime() - t0) / 1e9;
                    return result(mem, program, runner, transport, run, tscKhz, latencyEntries, hostSeconds, seed, sectorMask);
                } finally {
                    transport.close();
                }
            } finally {
                lcore.close();
            }
        }
    }

    /** Waits for the run, ending it by the stop flag (duration, stall) or, failing that, by stopping the vCPU. */
    private static RunResult watch(CompletableFuture<RunResult> done, VcpuRunner runner, MemorySegment mem, Options o, long t0) {
        long stopAddress = BlkDriverProgram.RESULTS + GuestResults.STOP;
        long completedAddress = BlkDriverProgram.RESULTS + GuestResults.COMPLETED;
        long lastCompleted = -1;
        long lastProgress = System.nanoTime();
        long stopAskedAt = 0;
        while (true) {
            try {
                return done.get(20, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // still running
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                runner.stop();
                return done.join();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("the vCPU thread failed: " + e.getCause(), e.getCause());
            }
            long now = System.nanoTime();
            long completed = (long) LONG.getVolatile(mem, completedAddress);
            if (completed != lastCompleted) {
                lastCompleted = completed;
                lastProgress = now;
            }
            boolean durationOver = o.durationMillis() > 0 && now - t0 >= TimeUnit.MILLISECONDS.toNanos(o.durationMillis());
            boolean stalled = now - lastProgress >= TimeUnit.MILLISECONDS.toNanos(o.stallMillis());
            if (stopAskedAt == 0 && (durationOver || stalled)) {
                LONG.setVolatile(mem, stopAddress, 1L);
                stopAskedAt = now;
            } else if (stopAskedAt != 0 && now - stopAskedAt >= TimeUnit.SECONDS.toNanos(1)) {
                runner.stop();
                try {
                    return done.get(5, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IllegalStateException("the vCPU did not stop within 5 s", e);
                }
            }
        }
    }

    private static Result result(MemorySegment mem, BlkDriverProgram program, VcpuRunner runner, VirtioMmioTransport transport,
                                 RunResult run, long tscKhz, long latencyEntries, double hostSeconds,
                                 long seed, long sectorMask) {
        long r = BlkDriverProgram.RESULTS;
        long completed = mem.get(JAVA_LONG, r + GuestResults.COMPLETED);
        long kicks = mem.get(JAVA_LONG, r + GuestResults.KICKS);
        long error = mem.get(JAVA_LONG, r + GuestResults.ERROR);
        long tscSpan = mem.get(JAVA_LONG, r + GuestResults.TSC_END) - mem.get(JAVA_LONG, r + GuestResults.TSC_START);
        double khz = tscKhz > 0 ? tscKhz : 1_000_000; // without KVM_GET_TSC_KHZ: assume 1 GHz (reported as such)
        Histogram h = new Histogram(1, 60_000_000_000L, 3);
        long n = Math.min(completed, latencyEntries);
        for (long i = 0; i < n; i++) {
            long cycles = mem.get(JAVA_LONG, BlkDriverProgram.LATENCIES + 8 * i);
            h.recordValue(Math.max(1, Math.min(60_000_000_000L, (long) (cycles * 1e6 / khz))));
        }
        String why = null;
        if (run.outcome() != RunResult.Outcome.FINISHED) {
            why = "the vCPU run ended " + run.outcome() + ": " + run.report();
        } else if (error != 0) {
            why = "guest error " + error + " after " + completed + " requests: " + BlkDriverProgram.describeError(error)
                + " (value 0x" + Long.toHexString(mem.get(JAVA_LONG, r + GuestResults.DETAIL))
                + ", expected 0x" + Long.toHexString(mem.get(JAVA_LONG, r + GuestResults.DETAIL2)) + ")";
        }
        if (transport.failure() != null) {
            why = (why == null ? "" : why + "; ") + "device: " + transport.failure();
        }
        ExitStats stats = runner.stats();
        return new Result(completed, kicks, stats.count(KvmApi.KVM_EXIT_MMIO), program.negotiationMmioAccesses(),
            transport.notifyExits(), transport.interrupts(), h, tscSpan * 1e-3 / khz, hostSeconds, tscKhz,
            KvmFlavour.detect(), run, why, seed, sectorMask, program.dataBytes());
    }

    /**
     * The host's check of a RAM disk after a run: every block the guest wrote holds the pattern of
     * the last pair that wrote it. Returns null when all match, else the first difference.
     */
    public static String checkMallocContents(MemorySegment disk, Result result) {
        long seed = result.seed();
        long sectorMask = result.sectorMask();
        int dataBytes = result.dataBytes();
        long writes = (result.completed() + 1) / 2; // even requests are writes
        long checked = 0;
        for (long block = 0; block <= sectorMask; block++) {
            if (block >= writes) {
                break;
            }
            long lastPair = block + ((writes - 1 - block) / (sectorMask + 1)) * (sectorMask + 1);
            long base = seed + (lastPair << 12);
            for (int k = 0; k < dataBytes / 8; k++) {
                long got = disk.get(JAVA_LONG, block * dataBytes + 8L * k);
                if (got != base + k) {
                    return "block " + block + " qword " + k + ": 0x" + Long.toHexString(got) + ", expected 0x"
                        + Long.toHexString(base + k) + " (pair " + lastPair + ")";
                }
            }
            checked++;
        }
        return checked == 0 ? "no block was written" : null;
    }
}
