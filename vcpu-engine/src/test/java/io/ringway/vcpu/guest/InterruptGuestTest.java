package io.ringway.vcpu.guest;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.exit.BusDevice;
import io.ringway.vcpu.exit.ExitStats;
import io.ringway.vcpu.exit.IoBus;
import io.ringway.vcpu.exit.MmioBus;
import io.ringway.vcpu.exit.RunResult;
import io.ringway.vcpu.exit.VcpuRunner;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.GsiRoute;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.MsiSignal;
import io.ringway.vcpu.kvm.KvmLapicState;
import io.ringway.vcpu.kvm.KvmStats;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.kvm.Vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Interrupts into a CPL-3 micro-guest: irqfd → GSI → MSI → local APIC → the CPL-0 handler → EOI and an ack the host sees. */
class InterruptGuestTest {
    private static final int DONE_PORT = 0x10;
    private static final long DOORBELL = MicroGuest.MMIO_BASE + 0x1000;
    private static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(60);

    /**
     * The guest rings the doorbell (an ioeventfd, no exit) n times; after each ring it waits (spinning
     * at CPL 3, or halted in {@code int 0x81}) until the handler has counted one more interrupt.
     */
    private static byte[] pingPong(int n, boolean halt) {
        X86Assembler a = new X86Assembler();
        Label loop = a.newLabel("loop");
        Label wait = a.newLabel("wait");
        a.mov(Reg.R8, n).mov(Reg.R10, DOORBELL).mov(Reg.R12, InterruptGuest.ACK).xor(Reg.R13, Reg.R13);
        a.bind(loop).inc(Reg.R13);
        if (halt) {
            a.cli().store32(Mem.at(Reg.R10), Reg.R8);
            InterruptGuest.haltUntilInterrupt(a);
        } else {
            a.store32(Mem.at(Reg.R10), Reg.R8);
        }
        a.bind(wait).load(Reg.RAX, Mem.at(Reg.R12)).cmp(Reg.RAX, Reg.R13).jcc(Cond.NZ, wait);
        a.dec(Reg.R8).jcc(Cond.NZ, loop);
        a.outImm(DONE_PORT, 1);
        return a.assemble();
    }

    private void runPingPong(boolean halt) throws Exception {
        runPingPong(halt, false);
    }

    /** {@code msi}: the host injects with KVM_SIGNAL_MSI (same address and vector as the route) instead of the irqfd. */
    private void runPingPong(boolean halt, boolean msi) throws Exception {
        int n = halt ? 100 : 300;
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             EventFd irq = EventFd.create(true); EventFd doorbell = EventFd.create(true)) {
            InterruptGuest ig = InterruptGuest.install(guest, irq, 0);
            guest.vm().addIoeventfd(doorbell, DOORBELL, 0, false, null);
            guest.load(MicroGuest.CODE, pingPong(n, halt));
            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            io.register("done", DONE_PORT, 1, BusDevice.onWrite(() -> runner[0].finish()));
            Vcpu vcpu = ig.createVcpu(0, MicroGuest.CODE, halt ? 0 : 3); // hlt is #GP at CPL 3 on PVM
            runner[0] = new VcpuRunner(vcpu, io, new MmioBus(), new ExitStats());
            KvmStats stats = vcpu.openStats(); // before the run: a vCPU ioctl waits for KVM_RUN to return
            CompletableFuture<RunResult> done = runner[0].start("vcpu-0");
            try (stats;
                 MsiSignal signal = guest.vm().msiSignal(GsiRoute.msiToApic(0, 0, InterruptGuest.VECTOR).address(), InterruptGuest.VECTOR)) {
                long deadline = System.nanoTime() + DEADLINE_NANOS;
                for (int i = 1; i <= n; i++) {
                    // the data-plane thread: a kick from the guest, then an interrupt back
                    while (doorbell.read() == 0) {   // non-blocking eventfd: 0 when not yet rung
                        checkAlive(done, deadline, "doorbell " + i);
                        Thread.yield(); // two spinning threads on 2 loaded cores: let the vCPU thread run
                    }
                    if (msi) {
                        int delivered = signal.signal();
                        assertTrue(delivered > 0, "KVM_SIGNAL_MSI returned " + delivered);
                    } else {
                        irq.signal();
                    }
                    while (ig.acks() < i) {
                        if (ig.acks() < i) {
                            checkAlive(done, deadline, "ack " + i);
                        }
                        Thread.yield();
                    }
                }
                RunResult result = done.get(30, TimeUnit.SECONDS);
                assertEquals(RunResult.Outcome.FINISHED, result.outcome(), result.report());
                assertEquals(n, ig.acks(), "interrupts the guest handler took");
                assertEquals(1, runner[0].stats().count(KvmApi.KVM_EXIT_IO), "only the done port exits to userspace");
                assertEquals(0, runner[0].stats().count(KvmApi.KVM_EXIT_MMIO), "the doorbell never exits to userspace");
                KvmLapicState lapic = vcpu.getLapic();
                assertFalse(lapic.bit(KvmLapicState.ISR, InterruptGuest.VECTOR), "the handler's EOI cleared the in-service bit");
                stats.refresh();
                assertTrue(stats.value("irq_injections") >= n, "KVM irq_injections " + stats.value("irq_injections") + " >= " + n);
            } finally {
                runner[0].stop();
                done.get(5, TimeUnit.SECONDS);
            }
        }
    }

    private static void checkAlive(CompletableFuture<RunResult> done, long deadline, String waitingFor) {
        if (done.isDone()) {
            throw new AssertionError("the vCPU run ended while the host waited for " + waitingFor + ": " + done.join().report());
        }
        if (System.nanoTime() > deadline) {
            throw new AssertionError("no " + waitingFor + " within " + TimeUnit.NANOSECONDS.toSeconds(DEADLINE_NANOS) + " s");
        }
    }

    @Test
    void anIrqfdInterruptReachesTheGuestHandlerWhichAcknowledges() throws Exception {
        runPingPong(false);
    }

    @Test
    void aSignalledMsiReachesTheGuestHandler() throws Exception {
        runPingPong(false, true);
    }

    @Test
    void anIrqfdInterruptWakesAHaltedGuest() throws Exception {
        runPingPong(true);
    }

    @Test
    void anMsiRoutedToApic1InterruptsVcpu1WhileVcpu0RunsOn() throws Exception {
        int n = 50;
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             EventFd irq = EventFd.create(true)) {
            assumeTrue(kvm.checkExtension(KvmApi.KVM_CAP_BINARY_STATS_FD) > 0, "skipped, needs KVM_CAP_BINARY_STATS_FD to tell the vCPUs' injections apart");
            InterruptGuest ig = InterruptGuest.install(guest, irq, 1); // the route names APIC 1
            // both vCPUs spin until the handler has counted n interrupts, then write DONE_PORT + id
            X86Assembler a = new X86Assembler();
            Label wait = a.newLabel("wait");
            a.mov(Reg.R12, InterruptGuest.ACK).mov(Reg.R13, n);
            a.bind(wait).load(Reg.RAX, Mem.at(Reg.R12)).cmp(Reg.RAX, Reg.R13).jcc(Cond.NZ, wait);
            a.mov(Reg.RDX, DONE_PORT).add(Reg.RDX, Reg.RDI).outDx(1);
            guest.load(MicroGuest.CODE, a.assemble());
            IoBus io = new IoBus();
            VcpuRunner[][] runners = {new VcpuRunner[1], new VcpuRunner[1]};
            Vcpu[] vcpus = new Vcpu[2];
            KvmStats[] stats = new KvmStats[2];
            long[] before = new long[2];
            List<CompletableFuture<RunResult>> done = new ArrayList<>();
            try {
                for (int id = 0; id < 2; id++) {
                    VcpuRunner[] mine = runners[id];
                    io.register("done" + id, DONE_PORT + id, 1, BusDevice.onWrite(() -> mine[0].finish()));
                    vcpus[id] = ig.createVcpu(id, MicroGuest.CODE, 3);
                    vcpus[id].setRegs(vcpus[id].getRegs().gpr(Reg.RDI.code(), id));
                    stats[id] = vcpus[id].openStats();
                    before[id] = stats[id].value("irq_injections");
                }
                for (int id = 0; id < 2; id++) {
                    runners[id][0] = new VcpuRunner(vcpus[id], io, new MmioBus(), new ExitStats());
                    done.add(runners[id][0].start("vcpu-" + id));
                }
                long deadline = System.nanoTime() + DEADLINE_NANOS;
                for (int i = 1; i <= n; i++) {
                    irq.signal();
                    while (ig.acks() < i) {
                        if (ig.acks() < i) {
                            checkAlive(done.get(1), deadline, "ack " + i);
                        }
                        Thread.yield();
                    }
                }
                for (int id = 0; id < 2; id++) {
                    RunResult r = done.get(id).get(30, TimeUnit.SECONDS);
                    assertEquals(RunResult.Outcome.FINISHED, r.outcome(), r.report());
                    stats[id].refresh();
                }
                assertEquals(n, ig.acks());
                assertTrue(stats[1].value("irq_injections") - before[1] >= n, "vCPU 1 (APIC 1) took the interrupts");
                assertEquals(0, stats[0].value("irq_injections") - before[0], "vCPU 0 took none");
            } finally {
                for (int id = 0; id < 2; id++) {
                    if (runners[id][0] != null) {
                        runners[id][0].stop();
                        done.get(id).exceptionally(t -> null).get(5, TimeUnit.SECONDS);
                    }
                    if (stats[id] != null) {
                        stats[id].close();
                    }
                }
            }
        }
    }
}
