package io.ringway.vcpu.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.ringway.runtime.sys.Errno;
import io.ringway.runtime.sys.LibC;
import io.ringway.runtime.sys.LinuxException;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The KVM system handle, an open {@code /dev/kvm}: API version, capabilities, the size of a vCPU's
 * {@code kvm_run} mapping, the CPUID KVM supports; and the factory of {@link Vm}s.
 *
 * <p>{@link #open()} fails with a {@link KvmUnavailableException} whose message says in one line
 * what is missing (the device node, the permission, the API version), so a command line can print
 * it as it is; {@link #requireExtension} does the same for a capability.
 */
public final class Kvm implements AutoCloseable {
    /** The KVM device node. */
    public static final Path DEVICE = Path.of("/dev/kvm");
    private static final int EACCES = 13;
    private static final int EPERM = 1;
    private static final int E2BIG = 7;
    /** "Inappropriate ioctl": the kernel does not know the request. */
    static final int ENOTTY = 25;
    static final int ENOSYS = 38;

    private final int fd;
    private final int vcpuMmapSize;
    private volatile boolean closed;

    private Kvm(int fd, int vcpuMmapSize) {
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /** Opens /dev/kvm (read-write, close-on-exec) and checks the API version is 12. */
    public static Kvm open() {
        if (!Files.exists(DEVICE)) {
            throw new KvmUnavailableException("KVM unavailable: " + DEVICE + " does not exist (no KVM module loaded, or not exposed to this container)");
        }
        int fd;
        try {
            fd = LibC.open(DEVICE.toString(), LibC.O_RDWR | LibC.O_CLOEXEC);
        } catch (LinuxException e) {
            if (e.errno() == EACCES || e.errno() == EPERM) {
                throw new KvmUnavailableException("KVM unavailable: no permission to open " + DEVICE + " (run as root or join the kvm group)");
            }
            throw new KvmUnavailableException("KVM unavailable: cannot open " + DEVICE + ": " + e.getMessage());
        }
        try {
            int version = LibC.ioctl(fd, KvmApi.KVM_GET_API_VERSION, 0L);
            if (version != KvmApi.API_VERSION) {
                throw new KvmUnavailableException("KVM unavailable: API version " + version + ", Ringway needs " + KvmApi.API_VERSION);
            }
            int mmapSize = LibC.ioctl(fd, KvmApi.KVM_GET_VCPU_MMAP_SIZE, 0L);
            if (mmapSize < KvmRunDescriptor.SIZE) {
                throw new KvmUnavailableException("KVM unavailable: vCPU mmap size " + mmapSize + " is smaller than struct kvm_run (" + KvmRunDescriptor.SIZE + ")");
            }
            return new Kvm(fd, mmapSize);
        } catch (RuntimeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /** Why KVM cannot be used here, or {@code null} when it can (opens and closes /dev/kvm). */
    public static String unavailableReason() {
        try (Kvm ignored = open()) {
            return null;
        } catch (KvmUnavailableException e) {
            return e.getMessage();
        }
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, else 1 or a capability-specific value (e.g. a count). */
    public int checkExtension(int capability) {
        return LibC.ioctl(fd, KvmApi.KVM_CHECK_EXTENSION, capability);
    }

    /** Fails with a one-line {@link KvmUnavailableException} when {@code capability} is absent. */
    public void requireExtension(int capability, String name) {
        if (checkExtension(capability) <= 0) {
            throw new KvmUnavailableException("KVM capability " + name + " missing on this machine");
        }
    }

    /** KVM_GET_VCPU_MMAP_SIZE: bytes to mmap from a vCPU fd (kvm_run plus the PIO data page). */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can present to a guest, to pass to {@link Vcpu#setCpuid}. */
    public List<CpuidEntry> supportedCpuid() {
        for (int capacity = 128; ; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment struct = arena.allocate(CpuidEntry.HEADER_SIZE + capacity * CpuidEntry.SIZE, 8);
                struct.set(JAVA_INT, 0, capacity);
                int result = LibC.tryIoctl(fd, KvmApi.KVM_GET_SUPPORTED_CPUID, struct);
                if (result == -E2BIG && capacity < 4096) {
                    continue; // api.rst 4.46: nent too small; retry with more room
                }
                if (result < 0) {
                    throw new LinuxException("ioctl", "KVM_GET_SUPPORTED_CPUID", -result);
                }
                int n = struct.get(JAVA_INT, 0);
                List<CpuidEntry> entries = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    long at = CpuidEntry.HEADER_SIZE + i * CpuidEntry.SIZE;
                    entries.add(new CpuidEntry(struct.get(JAVA_INT, at), struct.get(JAVA_INT, at + 4),
                        struct.get(JAVA_INT, at + 8), struct.get(JAVA_INT, at + 12), struct.get(JAVA_INT, at + 16),
                        struct.get(JAVA_INT, at + 20), struct.get(JAVA_INT, at + 24)));
                }
                return entries;
            }
        }
    }

    /**
     * KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a guest (what {@link Vcpu#getMsrs}
     * accepts). The first call with nmsrs=0 fails with E2BIG and sets nmsrs to the count.
     */
    public int[] msrIndexList() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment probe = arena.allocate(4, 4);
            int result = LibC.tryIoctl(fd, KvmApi.KVM_GET_MSR_INDEX_LIST, probe);
            if (result == -ENOTTY || result == -ENOSYS) {
                throw unsupported("KVM_GET_MSR_INDEX_LIST");
            }
            if (result < 0 && result != -E2BIG) {
                throw new LinuxException("ioctl", "KVM_GET_MSR_INDEX_LIST nmsrs=0", -result);
            }
            int count = probe.get(JAVA_INT, 0);
            if (count < 0 || count > 65536) {
                throw new IllegalStateException("KVM_GET_MSR_INDEX_LIST reported " + count + " MSRs");
            }
            MemorySegment list = arena.allocate(4 + 4L * count, 4);
            list.set(JAVA_INT, 0, count);
            result = LibC.tryIoctl(fd, KvmApi.KVM_GET_MSR_INDEX_LIST, list);
            if (result < 0) {
                throw new LinuxException("ioctl", "KVM_GET_MSR_INDEX_LIST nmsrs=" + count, -result);
            }
            int n = Math.min(count, list.get(JAVA_INT, 0));
            int[] indices = new int[n];
            for (int i = 0; i < n; i++) {
                indices[i] = list.get(JAVA_INT, 4 + 4L * i);
            }
            return indices;
        }
    }

    /** The one-line exception for a KVM ioctl the running kernel does not know (ENOTTY). */
    static KvmUnavailableException unsupported(String ioctl) {
        return new KvmUnavailableException("KVM ioctl " + ioctl + " unsupported on this machine");
    }

    /** KVM_CREATE_VM of the default machine type. */
    public Vm createVm() {
        int result = LibC.tryIoctl(fd, KvmApi.KVM_CREATE_VM, 0L);
        if (result < 0) {
            throw new LinuxException("ioctl", "KVM_CREATE_VM", -result);
        }
        return new Vm(this, result);
    }

    int fd() {
        return fd;
    }

    /** Closes /dev/kvm; VMs already created stay valid (they hold their own reference). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.closeQuietly(fd);
        }
    }

    @Override
    public String toString() {
        return "Kvm[fd=" + fd + ", vcpuMmapSize=" + vcpuMmapSize + "]";
    }

    static String errnoName(int errno) {
        return Errno.name(errno);
    }
}
