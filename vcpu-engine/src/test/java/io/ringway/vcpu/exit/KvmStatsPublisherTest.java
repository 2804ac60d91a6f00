package io.ringway.vcpu.exit;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.vcpu.asm.Cond;
import io.ringway.vcpu.asm.Label;
import io.ringway.vcpu.asm.Reg;
import io.ringway.vcpu.asm.X86Assembler;
import io.ringway.vcpu.guest.MicroGuest;
import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmApi;
import io.ringway.vcpu.kvm.KvmStats;
import io.ringway.vcpu.kvm.KvmTestSupport;
import io.ringway.vcpu.kvm.Vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** KVM's vCPU statistics reach the shared counters `ringway stats` reads. */
class KvmStatsPublisherTest {
    private static Map<String, Long> counters(StatsRegistry registry) {
        Map<String, Long> values = new HashMap<>();
        registry.counters().forEach((id, label) -> values.put(label, registry.counters().getCounterValue(id)));
        return values;
    }

    @Test
    void kvmExitCountsArePublishedUnderThePrefixAndFreedOnClose(@TempDir Path dir) {
        int n = 200;
        try (Kvm kvm = KvmTestSupport.openOrSkip(); MicroGuest guest = MicroGuest.create(kvm, 2 << 20);
             StatsRegistry registry = StatsRegistry.open(dir.resolve("test.stats"), 256)) {
            assumeTrue(kvm.checkExtension(KvmApi.KVM_CAP_BINARY_STATS_FD) > 0, "skipped, needs KVM_CAP_BINARY_STATS_FD");
            X86Assembler a = new X86Assembler();
            Label loop = a.newLabel("loop");
            a.mov(Reg.RCX, n).bind(loop).outImm(0x80, 1).dec(Reg.RCX).jcc(Cond.NZ, loop).outImm(0x10, 1);
            guest.load(MicroGuest.CODE, a.assemble());
            Vcpu vcpu = guest.createVcpu(0, MicroGuest.CODE);
            VcpuRunner[] runner = new VcpuRunner[1];
            IoBus io = new IoBus();
            io.register("sink", 0x80, 1, BusDevice.onWrite(() -> { }));
            io.register("done", 0x10, 1, BusDevice.onWrite(() -> runner[0].finish()));
            runner[0] = new VcpuRunner(vcpu, io, new MmioBus(), new ExitStats());
            try (KvmStats stats = vcpu.openStats()) {
                KvmStatsPublisher publisher = new KvmStatsPublisher(stats, registry, "vcpu.0.kvm",
                    List.of("exits", "no_such_statistic"));
                long before = counters(registry).get("vcpu.0.kvm.exits");

                assertEquals(RunResult.Outcome.FINISHED, runner[0].run().outcome());
                publisher.publish();

                Map<String, Long> after = counters(registry);
                assertEquals(List.of("exits"), publisher.published(), "statistics this kernel lacks are left out");
                assertTrue(after.get("vcpu.0.kvm.exits") - before >= n + 1, "published exits moved by " + (after.get("vcpu.0.kvm.exits") - before));
                assertEquals(stats.value("exits"), after.get("vcpu.0.kvm.exits"));
                publisher.close();
                assertFalse(counters(registry).containsKey("vcpu.0.kvm.exits"), "freed on close");
            }
        }
    }
}
