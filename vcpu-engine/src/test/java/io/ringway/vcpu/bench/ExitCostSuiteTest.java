package io.ringway.vcpu.bench;

import org.junit.jupiter.api.Test;

import io.ringway.vcpu.kvm.Kvm;
import io.ringway.vcpu.kvm.KvmTestSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExitCostSuiteTest {
    private static final int N = 300;

    @Test
    void pioAndMmioExitOncePerOperation() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            for (ExitCostSuite.Kind kind : new ExitCostSuite.Kind[] {ExitCostSuite.Kind.PIO_EXIT, ExitCostSuite.Kind.MMIO_EXIT}) {
                ExitCostSuite.Result r = ExitCostSuite.run(kvm, kind, N);
                assertEquals(N, r.userspaceExits(), kind.label());
                assertNotNull(r.hostExitNanos());
                assertEquals(N, r.guestNanos().getTotalCount());
                assertTrue(r.hostExitNanos().getValueAtPercentile(50) > 0);
            }
        }
    }

    @Test
    void theDoorbellAndCpuidStayInTheKernel() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            ExitCostSuite.Result bell = ExitCostSuite.run(kvm, ExitCostSuite.Kind.MMIO_DOORBELL, N);
            assertEquals(0, bell.userspaceExits());
            assertEquals(N, bell.eventfdCount());
            assertNull(bell.hostExitNanos());
            ExitCostSuite.Result cpuid = ExitCostSuite.run(kvm, ExitCostSuite.Kind.CPUID, N);
            assertEquals(0, cpuid.userspaceExits());
        }
    }

    @Test
    void theFlavourIsReadFromTheLoadedModules(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        assertEquals(KvmFlavour.UNKNOWN, KvmFlavour.detect(dir));
        java.nio.file.Files.createDirectories(dir.resolve("kvm_amd"));
        assertEquals(KvmFlavour.SVM, KvmFlavour.detect(dir));
        java.nio.file.Files.createDirectories(dir.resolve("kvm_pvm"));
        assertEquals(KvmFlavour.PVM, KvmFlavour.detect(dir));
    }
}
