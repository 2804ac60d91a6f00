/*
 * C yardstick for Ringway's PIO exit round trip (ringway vm exits): the same CPL-3 long-mode
 * micro-guest as ExitCostSuite (identity-mapped 2 MiB user pages, flat GDT with DPL-3 segments,
 * a TSS with an all-ports I/O bitmap) doing N x `out 0x80, al`; the host times the interval
 * between successive KVM_RUN returns, as VcpuRunner does. Not part of Ringway: a baseline.
 * Usage: pio_exit N   prints: c_pio_exit_ns_median=... c_pio_exit_ns_mean=... exits=...
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM (2u << 20)
static uint64_t now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000ull + t.tv_nsec; }
static int cmp(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return x < y ? -1 : x > y; }
static void die(const char *what) { perror(what); exit(2); }

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    uint8_t *mem = mmap(0, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct kvm_userspace_memory_region r = {0, 0, 0, MEM, (uint64_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) die("KVM_SET_USER_MEMORY_REGION");
    uint64_t *gdt = (uint64_t *)(mem + 0x1000), tss = 0x3000, tsslimit = 0x68 + 0x2000;
    gdt[1] = 0x00af9b000000ffffull; gdt[2] = 0x00cf93000000ffffull;
    gdt[3] = 0x00affb000000ffffull; gdt[4] = 0x00cff3000000ffffull;
    gdt[5] = (tsslimit & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tsslimit >> 16) & 0xf) << 48) | ((tss >> 24) << 56);
    gdt[6] = tss >> 32;
    *(uint16_t *)(mem + tss + 0x66) = 0x68; mem[tss + tsslimit] = 0xff;
    uint64_t *pml4 = (uint64_t *)(mem + 0x8000), *pdpt = (uint64_t *)(mem + 0x9000), *pd = (uint64_t *)(mem + 0xa000);
    pml4[0] = 0x9000 | 7; pdpt[0] = 0xa000 | 7;
    for (int j = 0; j < 512; j++) pd[j] = ((uint64_t)j << 21) | 0x87;
    uint8_t *c = mem + 0x10000; int k = 0;
    c[k++] = 0xb9; memcpy(c + k, &(uint32_t){(uint32_t)n}, 4); k += 4;   /* mov ecx, n */
    int loop = k;
    c[k++] = 0xe6; c[k++] = 0x80;                                         /* out 0x80, al */
    c[k++] = 0xff; c[k++] = 0xc9;                                         /* dec ecx */
    c[k++] = 0x75; c[k] = (uint8_t)(loop - (k + 1)); k++;                 /* jnz loop */
    c[k++] = 0xe6; c[k++] = 0x10;                                         /* out 0x10, al: done */
    int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (cpu < 0) die("KVM_CREATE_VCPU");
    int msz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(0, msz, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
    struct { struct kvm_cpuid2 h; struct kvm_cpuid_entry2 e[256]; } cp = {.h.nent = 256};
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cp) < 0 || ioctl(cpu, KVM_SET_CPUID2, &cp) < 0) die("CPUID");
    struct kvm_sregs s;
    if (ioctl(cpu, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
    struct kvm_segment cs = {.limit = 0xffffffff, .selector = 0x1b, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1};
    struct kvm_segment ds = {.limit = 0xffffffff, .selector = 0x23, .type = 3, .present = 1, .dpl = 3, .db = 1, .s = 1, .g = 1};
    struct kvm_segment tr = {.base = tss, .limit = tsslimit, .selector = 0x28, .type = 11, .present = 1};
    s.cs = cs; s.ds = s.es = s.fs = s.gs = s.ss = ds; s.tr = tr;
    memset(&s.ldt, 0, sizeof s.ldt); s.ldt.type = 2; s.ldt.unusable = 1;
    s.gdt.base = 0x1000; s.gdt.limit = 7 * 8 - 1; s.idt.base = 0x2000; s.idt.limit = 0;
    s.cr0 = 0x80050033; s.cr4 = 0x620; s.cr3 = 0x8000; s.efer = 0x500;
    if (ioctl(cpu, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
    struct kvm_regs g = {0}; g.rip = 0x10000; g.rsp = 0x1f0000; g.rflags = 0x3002;
    if (ioctl(cpu, KVM_SET_REGS, &g) < 0) die("KVM_SET_REGS");
    uint64_t *lat = calloc(n + 2, sizeof *lat); long exits = 0;
    uint64_t t0 = now(), last = t0;
    for (;;) {
        if (ioctl(cpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        uint64_t t = now();
        if (run->exit_reason != KVM_EXIT_IO) { fprintf(stderr, "unexpected exit %u\n", run->exit_reason); return 3; }
        if (run->io.port == 0x10) break;
        lat[exits++] = t - last; last = t;
    }
    uint64_t total = now() - t0;
    qsort(lat, exits, sizeof *lat, cmp);
    printf("c_pio_exit_ns_median=%llu c_pio_exit_ns_mean=%.1f exits=%ld\n",
           (unsigned long long)(exits ? lat[exits / 2] : 0), (double)total / (n ? n : 1), exits);
    return 0;
}
