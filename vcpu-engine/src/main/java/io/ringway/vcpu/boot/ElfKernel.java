package io.ringway.vcpu.boot;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * An uncompressed x86-64 kernel in ELF ({@code vmlinux}): its PT_LOAD segments, loaded at their
 * physical addresses, and its entry points — the PVH 32-bit entry from the Xen ELF note
 * {@code XEN_ELFNOTE_PHYS32_ENTRY} (xen/include/public/elfnote.h, 18) when present, and the
 * 64-bit entry {@code e_entry} (vmlinux.lds.S sets {@code ENTRY(phys_startup_64)}, a physical
 * address; a virtual one is translated through the segment that holds it).
 *
 * <pre>
 * Elf64_Ehdr: 0 e_ident[16] (7f 'E' 'L' 'F', class 2 = 64-bit, data 1 = little-endian), 16 u16 e_type,
 *             18 u16 e_machine (62 = x86-64), 24 u64 e_entry, 32 u64 e_phoff, 54 u16 e_phentsize, 56 u16 e_phnum
 * Elf64_Phdr: 0 u32 p_type, 4 u32 p_flags, 8 u64 p_offset, 16 u64 p_vaddr, 24 u64 p_paddr,
 *             32 u64 p_filesz, 40 u64 p_memsz, 48 u64 p_align                     (56 bytes)
 * Elf64_Nhdr: 0 u32 n_namesz, 4 u32 n_descsz, 8 u32 n_type, name and desc each padded to 4 bytes
 * </pre>
 *
 * @param entry64  physical address of the 64-bit entry point
 * @param pvhEntry physical address of the PVH 32-bit entry, or -1 without the note
 * @param segments the PT_LOAD segments, bounds-checked against the file
 */
public record ElfKernel(long entry64, long pvhEntry, List<Segment> segments) {
    public static final int EM_X86_64 = 62;
    public static final int PT_LOAD = 1;
    public static final int PT_NOTE = 4;
    public static final int PHDR_SIZE = 56;
    /** XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point, a 32-bit physical address. */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    private static final int MAX_PHDRS = 256;

    /** A PT_LOAD segment: {@code fileSize} bytes at {@code fileOffset} go to {@code paddr}, then zeros up to {@code memSize}. */
    public record Segment(long fileOffset, long paddr, long fileSize, long memSize) {
        public long end() {
            return paddr + memSize;
        }
    }

    /** Whether {@code image} starts with the ELF magic. */
    public static boolean isElf(MemorySegment image) {
        return SetupHeader.isElf(image);
    }

    /** Parses and checks the headers of {@code image}; {@code name} goes into the error messages. */
    public static ElfKernel parse(MemorySegment image, String name) {
        long size = image.byteSize();
        if (size < 64 || !isElf(image)) {
            throw new BadKernelException(name + ": not an ELF file (no 7f 'E' 'L' 'F' magic)");
        }
        if (image.get(JAVA_BYTE, 4) != 2 || image.get(JAVA_BYTE, 5) != 1) {
            throw new BadKernelException(name + ": ELF class " + image.get(JAVA_BYTE, 4) + " data " + image.get(JAVA_BYTE, 5)
                + ": only 64-bit little-endian (class 2, data 1) kernels are supported");
        }
        int machine = Short.toUnsignedInt(image.get(JAVA_SHORT_UNALIGNED, 18));
        if (machine != EM_X86_64) {
            throw new BadKernelException(name + ": ELF e_machine " + machine + " is not x86-64 (" + EM_X86_64 + ")");
        }
        long entry = image.get(JAVA_LONG_UNALIGNED, 24);
        long phoff = image.get(JAVA_LONG_UNALIGNED, 32);
        int phentsize = Short.toUnsignedInt(image.get(JAVA_SHORT_UNALIGNED, 54));
        int phnum = Short.toUnsignedInt(image.get(JAVA_SHORT_UNALIGNED, 56));
        if (phentsize != PHDR_SIZE || phnum == 0 || phnum > MAX_PHDRS) {
            throw new BadKernelException(name + ": ELF program headers: e_phentsize " + phentsize + " (must be " + PHDR_SIZE
                + "), e_phnum " + phnum + " (must be 1.." + MAX_PHDRS + ")");
        }
        if (phoff < 0 || phoff > size || (long) phnum * PHDR_SIZE > size - phoff) {
            throw new BadKernelException(name + ": ELF program headers at 0x" + Long.toHexString(phoff) + " (" + phnum
                + " x " + PHDR_SIZE + ") run past the end of the file (" + size + " bytes)");
        }
        List<Segment> segments = new ArrayList<>();
        long pvh = -1;
        long entryPhys = -1;
        for (int i = 0; i < phnum; i++) {
            long ph = phoff + (long) i * PHDR_SIZE;
            int type = image.get(JAVA_INT_UNALIGNED, ph);
            long offset = image.get(JAVA_LONG_UNALIGNED, ph + 8);
            long vaddr = image.get(JAVA_LONG_UNALIGNED, ph + 16);
            long paddr = image.get(JAVA_LONG_UNALIGNED, ph + 24);
            long filesz = image.get(JAVA_LONG_UNALIGNED, ph + 32);
            long memsz = image.get(JAVA_LONG_UNALIGNED, ph + 40);
            if (type != PT_LOAD && type != PT_NOTE) {
                continue;
            }
            if (offset < 0 || filesz < 0 || offset > size || filesz > size - offset) {
                throw new BadKernelException(name + ": ELF segment " + i + " [0x" + Long.toHexString(offset) + " + 0x"
                    + Long.toHexString(filesz) + ") runs past the end of the file (" + size + " bytes)");
            }
            if (type == PT_LOAD) {
                if (memsz < filesz || paddr < 0 || paddr + memsz < paddr) {
                    throw new BadKernelException(name + ": ELF segment " + i + ": p_memsz 0x" + Long.toHexString(memsz)
                        + " < p_filesz 0x" + Long.toHexString(filesz) + " or p_paddr 0x" + Long.toHexString(paddr) + " wraps");
                }
                segments.add(new Segment(offset, paddr, filesz, memsz));
                if (entryPhys < 0 && Long.compareUnsigned(entry - vaddr, memsz) < 0) {
                    entryPhys = paddr + (entry - vaddr);
                }
            } else {
                long found = pvhEntry(image, offset, filesz, name);
                if (found >= 0) {
                    pvh = found;
                }
            }
        }
        if (segments.isEmpty()) {
            throw new BadKernelException(name + ": ELF file has no PT_LOAD segment");
        }
        if (entryPhys < 0) {
            entryPhys = entry; // e_entry already physical (vmlinux: phys_startup_64) and outside the vaddr ranges
        }
        return new ElfKernel(entryPhys, pvh, List.copyOf(segments));
    }

    private static long pvhEntry(MemorySegment image, long offset, long length, String name) {
        long at = offset;
        long end = offset + length;
        while (end - at >= 12) {
            long namesz = Integer.toUnsignedLong(image.get(JAVA_INT_UNALIGNED, at));
            long descsz = Integer.toUnsignedLong(image.get(JAVA_INT_UNALIGNED, at + 4));
            int type = image.get(JAVA_INT_UNALIGNED, at + 8);
            long nameAt = at + 12;
            long descAt = nameAt + align4(namesz);
            long next = descAt + align4(descsz);
            if (next > end) {
                throw new BadKernelException(name + ": ELF note at 0x" + Long.toHexString(at) + " (namesz " + namesz
                    + ", descsz " + descsz + ") runs past its PT_NOTE segment");
            }
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && image.get(JAVA_INT_UNALIGNED, nameAt) == 0x006e6558) { // "Xen\0"
                if (descsz == 4) {
                    return Integer.toUnsignedLong(image.get(JAVA_INT_UNALIGNED, descAt));
                }
                if (descsz == 8) {
                    return image.get(JAVA_LONG_UNALIGNED, descAt);
                }
                throw new BadKernelException(name + ": XEN_ELFNOTE_PHYS32_ENTRY note has " + descsz + " bytes of address, must be 4 or 8");
            }
            at = next;
        }
        return -1;
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }

    /** Lowest physical address of a segment. */
    public long lowest() {
        return segments.stream().mapToLong(Segment::paddr).min().orElseThrow();
    }

    /** Highest physical end of a segment. */
    public long highest() {
        return segments.stream().mapToLong(Segment::end).max().orElseThrow();
    }

    /**
     * Copies every segment into {@code ram} (guest-physical 0 at byte 0) and zeroes its bss part;
     * a segment outside {@code ram} is a {@link BadKernelException}.
     */
    public void load(MemorySegment image, MemorySegment ram, String name) {
        for (Segment s : segments) {
            if (s.end() > ram.byteSize()) {
                throw new BadKernelException(name + ": ELF segment at 0x" + Long.toHexString(s.paddr()) + " (0x"
                    + Long.toHexString(s.memSize()) + " bytes) does not fit in guest memory below 0x" + Long.toHexString(ram.byteSize()));
            }
            MemorySegment.copy(image, s.fileOffset(), ram, s.paddr(), s.fileSize());
            ram.asSlice(s.paddr() + s.fileSize(), s.memSize() - s.fileSize()).fill((byte) 0);
        }
    }
}
