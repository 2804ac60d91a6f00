package io.ringway.vcpu.exit;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import io.ringway.runtime.sys.EventFd;
import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Mem;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.kvm.Vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Micro-guests at CPL 3 against the run loop: dispatch, doorbells, stop, two vCPUs, faults. */
class VcpuRunnerTest {
    private static final int DONE_PORT = 0x10;

    /** A device that ends the run when written: the guest's "I am done". */
    private static BusDevice finisher(VcpuRunner[] runner) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                runner[0].finish();
            }
        };
    }

    private record Access(String device, long offset, int size, long value, boolean write) {
    }

    private static BusDevice recorder(String name, List<Access> log, long readValue) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                log.add(new Access(name, offset, size, readValue, false));
                return readValue;
            }

            @Override
            public void write(long offset, int size, long value) {
                log.add(new Access(name, offset, size, value, true));
            }
        };
    }

    @Test
    void exitsReachTheDeviceThatClaimsTheAddress() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            X86Assembler a = new X86Assembler();
            a.mov(Reg.RAX, 0x11).outImm(0x81, 1);                        // port A, offset 1
            a.mov(Reg.RDX, 0x3f9).mov(Reg.RAX, 0x2222).outDx(2);         // port B (above 255), offset 1
            a.mov(Reg.RBX, MicroGuest.MMIO_BASE + 0x10).mov(Reg.RAX, 0x33).store32(Mem.at(Reg.RBX), Reg.RAX); // mmio write
            a.mov(Reg.RBX, MicroGuest.MMIO_BASE + 0x20).load32(Reg.RAX, Mem.at(Reg.RBX));  // mmio read -> 0x44
            a.outImm(0x80, 4);                                           // echo it to port A, offset 0
            a.mov(Reg.RBX, MicroGuest.MMIO_BASE + 0x5000).store32(Mem.at(Reg.RBX), 0x55); // nobody's address
            a.outImm(DONE_PORT, 1);
            guest.load(MicroGuest.CODE, a.assemble());

            List<Access> log = new ArrayList<>();
            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            MmioBus mmio = new MmioBus();
            io.register("A", 0x80, 4, recorder("A", log, 0));
            io.register("B", 0x3f8, 8, recorder("B", log, 0));
            io.register("done", DONE_PORT, 1, finisher(runner));
            mmio.register("M", MicroGuest.MMIO_BASE, 0x1000, recorder("M", log, 0x44));
            Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
            runner[0] = new VcpuRunner(vcpu, io, mmio, new ExitStats());

            RunResult result = runner[0].run();

            assertEquals(RunResult.Outcome.FINISHED, result.outcome(), result.report());
            assertEquals(List.of(
                new Access("A", 1, 1, 0x11, true),
                new Access("B", 1, 2, 0x2222, true),
                new Access("M", 0x10, 4, 0x33, true),
                new Access("M", 0x20, 4, 0x44, false),
                new Access("A", 0, 4, 0x44, true)), log);
            ExitStats stats = runner[0].stats();
            assertEquals(4, stats.count(KvmApi.KVM_EXIT_IO));
            assertEquals(3, stats.count(KvmApi.KVM_EXIT_MMIO));
            assertEquals(1, stats.unclaimedMmioCount());
            assertEquals(0, stats.unclaimedIoCount());
        }
    }

    @Test
    void anIoeventfdDoorbellCausesNoUserspaceExit() {
        int n = 20_000;
        long doorbell = MicroGuest.MMIO_BASE + 0x1000;
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             EventFd kick = EventFd.create(true)) {
            guest.vm().addIoeventfd(kick, doorbell, 0, false, null);
            X86Assembler a = new X86Assembler();
            Label loop = a.newLabel("loop");
            a.mov(Reg.RCX, n).mov(Reg.RBX, doorbell);
            a.bind(loop).store32(Mem.at(Reg.RBX), Reg.RCX).dec(Reg.RCX).jcc(Cond.NZ, loop);
            a.outImm(DONE_PORT, 1);
            guest.load(MicroGuest.CODE, a.assemble());

            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            io.register("done", DONE_PORT, 1, finisher(runner));
            runner[0] = new VcpuRunner(guest.createVcpu(0, MicroGuest.CODE), io, new MmioBus(), new ExitStats());

            RunResult result = runner[0].run();

            assertEquals(RunResult.Outcome.FINISHED, result.outcome(), result.report());
            assertEquals(0, runner[0].stats().count(KvmApi.KVM_EXIT_MMIO), "MMIO exits to userspace");
            assertEquals(1, runner[0].stats().count(KvmApi.KVM_EXIT_IO), "only the done port exits");
            assertEquals(n, kick.read(), "eventfd count = doorbell writes");
        }
    }

    @Test
    void aVcpuInAnEndlessLoopStopsOnRequestWithinOneSecond() throws Exception {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            X86Assembler a = new X86Assembler();
            Label self = a.newLabel("self");
            a.bind(self).jmp(self);
            guest.load(MicroGuest.CODE, a.assemble());
            VcpuRunner runner = new VcpuRunner(guest.createVcpu(0, MicroGuest.CODE), new IoBus(), new MmioBus(), new ExitStats());

            CompletableFuture<RunResult> done = runner.start("vcpu-0");
            Thread.sleep(300);
            assertFalse(done.isDone(), () -> "the guest loop ended by itself: " + done.join().report());
            long t0 = System.nanoTime();
            runner.stop();
            RunResult result = done.get(1, TimeUnit.SECONDS);
            long tookMs = (System.nanoTime() - t0) / 1_000_000;

            assertEquals(RunResult.Outcome.STOPPED, result.outcome(), result.report());
            assertTrue(tookMs < 1000, "stop took " + tookMs + " ms");
        }
    }

    @Test
    void twoVcpusRunAtOnce() throws Exception {
        int n = 1_500;
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            // each vCPU writes its own port n times: port 0x80 + id (id in RDI, set before start)
            X86Assembler a = new X86Assembler();
            Label loop = a.newLabel("loop");
            a.mov(Reg.RCX, n).mov(Reg.RDX, 0x80).add(Reg.RDX, Reg.RDI);
            a.bind(loop).mov(Reg.RAX, Reg.RCX).outDx(4).dec(Reg.RCX).jcc(Cond.NZ, loop);
            a.mov(Reg.RDX, DONE_PORT).add(Reg.RDX, Reg.RDI).outDx(1);
            guest.load(MicroGuest.CODE, a.assemble());

            AtomicLong[] seen = {new AtomicLong(), new AtomicLong()};
            AtomicBoolean interleaved = new AtomicBoolean();
            IoBus io = new IoBus();
            VcpuRunner[][] runners = {new VcpuRunner[1], new VcpuRunner[1]};
            for (int id = 0; id < 2; id++) {
                int me = id;
                io.register("port" + id, 0x80 + id, 1, new BusDevice() {
                    @Override
                    public long read(long offset, int size) {
                        return 0;
                    }

                    @Override
                    public void write(long offset, int size, long value) {
                        seen[me].incrementAndGet();
                        long other = seen[1 - me].get();
                        if (other > 0 && other < n) {
                            interleaved.set(true);
                        }
                    }
                });
                io.register("done" + id, DONE_PORT + id, 1, finisher(runners[id]));
            }
            List<CompletableFuture<RunResult>> results = new ArrayList<>();
            for (int id = 0; id < 2; id++) {
                Vcpu vcpu = guest.createVcpu(id, MicroGuest.CODE);
                vcpu.setRegs(vcpu.getRegs().gpr(Reg.RDI.code(), id));
                runners[id][0] = new VcpuRunner(vcpu, io, new MmioBus(), new ExitStats());
            }
            for (int id = 0; id < 2; id++) {
                results.add(runners[id][0].start("vcpu-" + id));
            }
            for (int id = 0; id < 2; id++) {
                RunResult r = results.get(id).get(60, TimeUnit.SECONDS);
                assertEquals(RunResult.Outcome.FINISHED, r.outcome(), r.report());
                assertEquals(n, seen[id].get());
                assertEquals(n + 1, runners[id][0].stats().count(KvmApi.KVM_EXIT_IO));
            }
            assertTrue(interleaved.get(), "the two vCPUs' exits interleaved");
        }
    }

    @Test
    void aTripleFaultEndsTheRunWithAReport() {
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20)) {
            X86Assembler a = new X86Assembler();
            a.nop().ud2(); // #UD, no IDT -> #GP -> #DF -> shutdown
            guest.load(MicroGuest.CODE, a.assemble());
            VcpuRunner runner = new VcpuRunner(guest.createVcpu(0, MicroGuest.CODE), new IoBus(), new MmioBus(), new ExitStats());

            RunResult result = runner.run();

            assertEquals(RunResult.Outcome.FAULT, result.outcome(), result.report());
            assertEquals(KvmApi.KVM_EXIT_SHUTDOWN, result.exitReason());
            assertTrue(result.report().startsWith("vCPU 0 ended by KVM_EXIT_SHUTDOWN after 1 exits: the guest triple-faulted"), result.report());
            assertTrue(result.report().contains("rip=0x10001"), result.report());
            assertTrue(result.report().contains("cs  sel=0x1b"), result.report());
        }
    }
}
