package io.ringway.vcpu.kvm;

/**
 * Layout of {@code struct kvm_run}, the page(s) a vCPU shares with KVM (mmapped from the vCPU fd).
 * Offsets printed with gcc {@code offsetof} against the installed {@code <linux/kvm.h>}
 * (sizeof(struct kvm_run) = 2352; KVM_GET_VCPU_MMAP_SIZE is larger: the PIO data page follows).
 *
 * <pre>
 *   0  u8  request_interrupt_window     1  u8  immediate_exit      2..7 padding
 *   8  u32 exit_reason                 12  u8  ready_for_interrupt_injection
 *  13  u8  if_flag                     14  u16 flags
 *  16  u64 cr8                         24  u64 apic_base
 *  32  union (one member per exit reason):
 *        io:         32 u8 direction, 33 u8 size, 34 u16 port, 36 u32 count, 40 u64 data_offset
 *        mmio:       32 u64 phys_addr, 40 u8 data[8], 48 u32 len, 52 u8 is_write
 *        fail_entry: 32 u64 hardware_entry_failure_reason, 40 u32 cpu
 *        internal:   32 u32 suberror, 36 u32 ndata, 40 u64 data[16]
 *        ex:         32 u32 exception, 36 u32 error_code
 *        hw:         32 u64 hardware_exit_reason
 *        system_event: 32 u32 type, 36 u32 ndata, 40 u64 data[16]
 * 288  u64 kvm_valid_regs             296  u64 kvm_dirty_regs       304  union s (sync regs)
 * </pre>
 */
public final class KvmRunDescriptor {
    public static final long REQUEST_INTERRUPT_WINDOW_OFFSET = 0;
    public static final long IMMEDIATE_EXIT_OFFSET = 1;
    public static final long EXIT_REASON_OFFSET = 8;
    public static final long READY_FOR_INTERRUPT_INJECTION_OFFSET = 12;
    public static final long IF_FLAG_OFFSET = 13;
    public static final long FLAGS_OFFSET = 14;
    public static final long CR8_OFFSET = 16;
    public static final long APIC_BASE_OFFSET = 24;

    public static final long IO_DIRECTION_OFFSET = 32;
    public static final long IO_SIZE_OFFSET = 33;
    public static final long IO_PORT_OFFSET = 34;
    public static final long IO_COUNT_OFFSET = 36;
    public static final long IO_DATA_OFFSET_OFFSET = 40;

    public static final long MMIO_PHYS_ADDR_OFFSET = 32;
    public static final long MMIO_DATA_OFFSET = 40;
    public static final long MMIO_LEN_OFFSET = 48;
    public static final long MMIO_IS_WRITE_OFFSET = 52;

    public static final long FAIL_ENTRY_REASON_OFFSET = 32;
    public static final long FAIL_ENTRY_CPU_OFFSET = 40;

    public static final long INTERNAL_SUBERROR_OFFSET = 32;
    public static final long INTERNAL_NDATA_OFFSET = 36;
    public static final long INTERNAL_DATA_OFFSET = 40;
    public static final int INTERNAL_DATA_MAX = 16;

    public static final long EX_EXCEPTION_OFFSET = 32;
    public static final long EX_ERROR_CODE_OFFSET = 36;

    public static final long HW_EXIT_REASON_OFFSET = 32;

    public static final long SYSTEM_EVENT_TYPE_OFFSET = 32;

    /** {@code sizeof(struct kvm_run)}; the mapping is KVM_GET_VCPU_MMAP_SIZE bytes, at least this. */
    public static final long SIZE = 2352;

    private KvmRunDescriptor() {
    }
}
