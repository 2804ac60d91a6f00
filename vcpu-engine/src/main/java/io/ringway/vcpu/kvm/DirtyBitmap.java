package io.ringway.vcpu.kvm;

import java.util.Arrays;

/**
 * The pages of a memory slot written since the previous KVM_GET_DIRTY_LOG of that slot: bit
 * {@code p} of word {@code p / 64} stands for the 4 KiB page at {@code gpa + p * 4096}
 * (api.rst 4.8; bits past the slot's last page are 0).
 */
public final class DirtyBitmap {
    /** The page size the bitmap counts in. */
    public static final long PAGE_SIZE = 4096;

    private final int slot;
    private final long gpa;
    private final long pages;
    private final long[] words;

    DirtyBitmap(int slot, long gpa, long pages, long[] words) {
        this.slot = slot;
        this.gpa = gpa;
        this.pages = pages;
        this.words = words;
    }

    /** Bitmap words for a slot of {@code pages} pages (the kernel writes whole u64s). */
    static int wordsFor(long pages) {
        return (int) ((pages + 63) / 64);
    }

    /** The memory slot. */
    public int slot() {
        return slot;
    }

    /** Guest-physical address of page 0. */
    public long gpa() {
        return gpa;
    }

    /** Pages in the slot. */
    public long pages() {
        return pages;
    }

    /** Whether page {@code page} (0 = the slot's first) was written. */
    public boolean isDirty(long page) {
        if (page < 0 || page >= pages) {
            throw new IndexOutOfBoundsException("page " + page + " outside slot " + slot + " of " + pages + " pages");
        }
        return (words[(int) (page >>> 6)] & 1L << page) != 0;
    }

    /** Pages written. */
    public long dirtyCount() {
        long n = 0;
        for (long w : words) {
            n += Long.bitCount(w);
        }
        return n;
    }

    /** The indexes of the pages written, ascending. */
    public long[] dirtyPages() {
        long[] out = new long[(int) dirtyCount()];
        int k = 0;
        for (int i = 0; i < words.length; i++) {
            long w = words[i];
            while (w != 0) {
                out[k++] = i * 64L + Long.numberOfTrailingZeros(w);
                w &= w - 1;
            }
        }
        return out;
    }

    /** The guest-physical addresses of the pages written, ascending. */
    public long[] dirtyAddresses() {
        long[] out = dirtyPages();
        for (int i = 0; i < out.length; i++) {
            out[i] = gpa + out[i] * PAGE_SIZE;
        }
        return out;
    }

    @Override
    public String toString() {
        long[] dirty = dirtyPages();
        return "DirtyBitmap[slot " + slot + ", " + dirty.length + " of " + pages + " pages dirty"
            + (dirty.length <= 16 ? ": " + Arrays.toString(dirty) : "") + "]";
    }
}
