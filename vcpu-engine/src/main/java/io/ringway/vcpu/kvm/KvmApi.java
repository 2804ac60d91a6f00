package io.ringway.vcpu.kvm;

/**
 * KVM ioctl request numbers, capabilities and exit reasons (x86-64), as {@code <linux/kvm.h>}
 * defines them. Every number was printed by a throwaway C program compiled with gcc against the
 * installed headers, not derived by hand.
 */
public final class KvmApi {
    /** The only API version KVM has ever reported (api.rst 4.1). */
    public static final int API_VERSION = 12;

    // ---- system ioctls (on the /dev/kvm fd)
    public static final long KVM_GET_API_VERSION = 0xAE00L;
    public static final long KVM_CREATE_VM = 0xAE01L;
    public static final long KVM_CHECK_EXTENSION = 0xAE03L;
    public static final long KVM_GET_VCPU_MMAP_SIZE = 0xAE04L;
    public static final long KVM_GET_SUPPORTED_CPUID = 0xC008AE05L;
    public static final long KVM_GET_MSR_INDEX_LIST = 0xC004AE02L;

    // ---- VM ioctls
    public static final long KVM_CREATE_VCPU = 0xAE41L;
    public static final long KVM_SET_USER_MEMORY_REGION = 0x4020AE46L;
    public static final long KVM_SET_TSS_ADDR = 0xAE47L;
    public static final long KVM_CREATE_IRQCHIP = 0xAE60L;
    public static final long KVM_IRQ_LINE = 0x4008AE61L;
    public static final long KVM_SET_GSI_ROUTING = 0x4008AE6AL;
    public static final long KVM_IRQFD = 0x4020AE76L;
    public static final long KVM_CREATE_PIT2 = 0x4040AE77L;
    public static final long KVM_IOEVENTFD = 0x4040AE79L;
    public static final long KVM_GET_DIRTY_LOG = 0x4010AE42L;
    public static final long KVM_SIGNAL_MSI = 0x4020AEA5L;
    /** Also a vCPU ioctl (KVM_CAP_ENABLE_CAP); here for VM-wide capabilities such as KVM_CAP_X86_DISABLE_EXITS. */
    public static final long KVM_ENABLE_CAP = 0x4068AEA3L;
    /** VM and vCPU ioctl (KVM_CAP_BINARY_STATS_FD): returns a read-only fd of binary statistics. */
    public static final long KVM_GET_STATS_FD = 0xAECEL;

    // ---- vCPU ioctls
    public static final long KVM_RUN = 0xAE80L;
    public static final long KVM_GET_REGS = 0x8090AE81L;
    public static final long KVM_SET_REGS = 0x4090AE82L;
    public static final long KVM_GET_SREGS = 0x8138AE83L;
    public static final long KVM_SET_SREGS = 0x4138AE84L;
    public static final long KVM_SET_SIGNAL_MASK = 0x4004AE8BL;
    public static final long KVM_SET_CPUID2 = 0x4008AE90L;
    public static final long KVM_GET_TSC_KHZ = 0xAEA3L;
    public static final long KVM_GET_MP_STATE = 0x8004AE98L;
    public static final long KVM_SET_MP_STATE = 0x4004AE99L;
    public static final long KVM_GET_LAPIC = 0x8400AE8EL;
    public static final long KVM_SET_LAPIC = 0x4400AE8FL;
    public static final long KVM_GET_FPU = 0x81A0AE8CL;
    public static final long KVM_SET_FPU = 0x41A0AE8DL;
    public static final long KVM_GET_MSRS = 0xC008AE88L;
    public static final long KVM_SET_MSRS = 0x4008AE89L;
    public static final long KVM_GET_XSAVE = 0x9000AEA4L;
    public static final long KVM_SET_XSAVE = 0x5000AEA5L;
    /** KVM_GET_XSAVE with a buffer of KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes (more than 4096 with AMX). */
    public static final long KVM_GET_XSAVE2 = 0x9000AECFL;

    // ---- struct kvm_mp_state.mp_state (api.rst KVM_GET_MP_STATE)
    /** The vCPU runs (the BSP at creation). */
    public static final int KVM_MP_STATE_RUNNABLE = 0;
    /** An AP before its INIT: KVM_RUN blocks in the kernel until the in-kernel LAPIC gets INIT and SIPI. */
    public static final int KVM_MP_STATE_UNINITIALIZED = 1;
    /** An AP after INIT, waiting for its SIPI. */
    public static final int KVM_MP_STATE_INIT_RECEIVED = 2;
    /** Halted in the kernel (HLT with the in-kernel LAPIC). */
    public static final int KVM_MP_STATE_HALTED = 3;
    /** SIPI received, about to start at the vector's address. */
    public static final int KVM_MP_STATE_SIPI_RECEIVED = 4;

    // ---- capabilities (KVM_CHECK_EXTENSION)
    public static final int KVM_CAP_IRQCHIP = 0x0;
    public static final int KVM_CAP_USER_MEMORY = 0x3;
    public static final int KVM_CAP_SET_TSS_ADDR = 0x4;
    public static final int KVM_CAP_EXT_CPUID = 0x7;
    public static final int KVM_CAP_NR_VCPUS = 0x9;
    public static final int KVM_CAP_MP_STATE = 0xE;
    public static final int KVM_CAP_NR_MEMSLOTS = 0xA;
    public static final int KVM_CAP_IRQ_ROUTING = 0x19;
    public static final int KVM_CAP_IRQFD = 0x20;
    public static final int KVM_CAP_PIT2 = 0x21;
    public static final int KVM_CAP_IOEVENTFD = 0x24;
    public static final int KVM_CAP_MAX_VCPUS = 0x42;
    public static final int KVM_CAP_IOEVENTFD_NO_LENGTH = 0x64;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 0x88;
    public static final int KVM_CAP_X86_DISABLE_EXITS = 0x8F;
    public static final int KVM_CAP_SIGNAL_MSI = 0x4D;
    public static final int KVM_CAP_XSAVE = 0x37;
    /** Returns the size of the guest's XSAVE buffer (at least 4096). */
    public static final int KVM_CAP_XSAVE2 = 0xD0;
    public static final int KVM_CAP_BINARY_STATS_FD = 0xCB;

    // ---- KVM_CAP_X86_DISABLE_EXITS bits (args[0] of KVM_ENABLE_CAP; KVM_CHECK_EXTENSION returns those offered)
    public static final int KVM_X86_DISABLE_EXITS_MWAIT = 0x1;
    public static final int KVM_X86_DISABLE_EXITS_HLT = 0x2;
    public static final int KVM_X86_DISABLE_EXITS_PAUSE = 0x4;
    public static final int KVM_X86_DISABLE_EXITS_CSTATE = 0x8;

    // ---- GSI routing (struct kvm_irq_routing_entry.type) and memory slot flags
    public static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    public static final int KVM_IRQ_ROUTING_MSI = 2;
    /** kvm_irq_routing_irqchip.irqchip: the master PIC, the slave PIC, the IOAPIC. */
    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;
    /** kvm_userspace_memory_region.flags: keep a dirty bitmap of the slot (KVM_GET_DIRTY_LOG). */
    public static final int KVM_MEM_LOG_DIRTY_PAGES = 0x1;

    // ---- exit reasons (kvm_run.exit_reason)
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HYPERCALL = 3;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;

    /** kvm_run.io.direction: the guest read the port. */
    public static final int KVM_EXIT_IO_IN = 0;
    /** kvm_run.io.direction: the guest wrote the port. */
    public static final int KVM_EXIT_IO_OUT = 1;

    // ---- ioeventfd / irqfd flags
    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 0x1;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 0x2;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 0x4;
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 0x1;
    /** kvm_pit_config.flags: the PIT's speaker port is a dummy (what QEMU and Firecracker pass). */
    public static final int KVM_PIT_SPEAKER_DUMMY = 0x1;

    private static final String[] EXIT_NAMES = new String[32];

    static {
        EXIT_NAMES[KVM_EXIT_UNKNOWN] = "UNKNOWN";
        EXIT_NAMES[KVM_EXIT_EXCEPTION] = "EXCEPTION";
        EXIT_NAMES[KVM_EXIT_IO] = "IO";
        EXIT_NAMES[KVM_EXIT_HYPERCALL] = "HYPERCALL";
        EXIT_NAMES[KVM_EXIT_DEBUG] = "DEBUG";
        EXIT_NAMES[KVM_EXIT_HLT] = "HLT";
        EXIT_NAMES[KVM_EXIT_MMIO] = "MMIO";
        EXIT_NAMES[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN";
        EXIT_NAMES[KVM_EXIT_SHUTDOWN] = "SHUTDOWN";
        EXIT_NAMES[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY";
        EXIT_NAMES[KVM_EXIT_INTR] = "INTR";
        EXIT_NAMES[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR";
        EXIT_NAMES[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT";
    }

    private KvmApi() {
    }

    /** {@code KVM_EXIT_<name>} of an exit reason, or {@code KVM_EXIT_<n>} for one this class does not name. */
    public static String exitName(int reason) {
        String name = reason >= 0 && reason < EXIT_NAMES.length ? EXIT_NAMES[reason] : null;
        return "KVM_EXIT_" + (name == null ? Integer.toString(reason) : name);
    }
}
