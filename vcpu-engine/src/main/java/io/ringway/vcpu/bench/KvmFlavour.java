package io.ringway.vcpu.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Which KVM this machine has, read from the loaded modules: hardware VMX (kvm_intel), SVM
 * (kvm_amd) or PVM (kvm_pvm, where guest CPL-0 code is emulated and CPL-3 code runs natively).
 * Every exit-cost result names it: the figures differ by an order of magnitude between them.
 */
public enum KvmFlavour {
    PVM("kvm_pvm"), SVM("kvm_amd"), VMX("kvm_intel"), UNKNOWN("");

    private final String module;

    KvmFlavour(String module) {
        this.module = module;
    }

    /** The kernel module that provides it. */
    public String module() {
        return module;
    }

    /** The flavour of this machine (PVM first: it may be loaded beside a hardware module). */
    public static KvmFlavour detect() {
        return detect(Path.of("/sys/module"));
    }

    static KvmFlavour detect(Path sysModule) {
        for (KvmFlavour f : new KvmFlavour[] {PVM, SVM, VMX}) {
            if (Files.isDirectory(sysModule.resolve(f.module))) {
                return f;
            }
        }
        return UNKNOWN;
    }

    @Override
    public String toString() {
        return this == UNKNOWN ? "unknown (no kvm_pvm, kvm_amd or kvm_intel module)" : name() + " (" + module + ")";
    }
}
