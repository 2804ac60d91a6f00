package io.ringway.vcpu.kvm;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Opens /dev/kvm for a test, or skips the test saying what is missing. */
public final class KvmTestSupport {
    private KvmTestSupport() {
    }

    /** An open Kvm; the test is skipped (with the reason) where /dev/kvm cannot be used. */
    public static Kvm openOrSkip() {
        String reason = Kvm.unavailableReason();
        assumeTrue(reason == null, () -> "skipped, needs /dev/kvm: " + reason);
        return Kvm.open();
    }
}
