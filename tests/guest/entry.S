/* PVH entry of the probe guest.
 *
 * CPL0 code is emulated instruction by instruction on the nested KVM this
 * project is tested on, so everything here is short and straight-line:
 * the page tables, GDT and TSSs are static data (tables.S), and all real
 * work happens at CPL3 (main.c).  Each CPU runs this path once:
 *   BSP: pvh_entry -> [hello fast path] -> setup -> enter_long_mode
 *   AP:  trampoline.S -> ap_entry32 -> enter_long_mode
 * and leaves CPL0 with an iretq to bsp_user_start or ap_main. */
#include "probe-defs.h"

/* The PVH note: where a PVH loader enters us in 32-bit protected mode. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                         /* namesz: "Xen\0" */
	.long 4                         /* descsz */
	.long 18                        /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long pvh_entry
	.balign 4

/* Little-endian words of the command-line options the fast path knows. */
#define W_PROB  0x626f7270          /* "prob" */
#define W_E_DOT 0x2e65              /* "e."   */
#define W_MODE  0x65646f6d          /* "mode" */
#define W_EQ_H  0x683d              /* "=h"   */
#define W_ELLO  0x6f6c6c65          /* "ello" */
#define W_EXIT  0x74697865          /* "exit" */

	.section .text.entry, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	/* EBX = hvm_start_info, interrupts off, no stack.  One pass over the
	 * command line looks for "probe.mode=hello" and "probe.exit=N" at
	 * word starts: EBP = hello seen, EDI = exit code, EDX = previous byte. */
	cmpl $START_INFO_MAGIC, (%ebx)
	jne setup
	movl 24(%ebx), %esi             /* cmdline_paddr (low half) */
	testl %esi, %esi
	jz setup
	xorl %ebp, %ebp
	xorl %edi, %edi
	movl $' ', %edx
scan:
	movzbl (%esi), %eax
	testl %eax, %eax
	jz scan_done
	cmpl $' ', %edx
	jne scan_next
	cmpl $W_PROB, (%esi)
	jne scan_next
	cmpw $W_E_DOT, 4(%esi)
	jne scan_next
	cmpl $W_MODE, 6(%esi)
	jne scan_exit
	cmpw $W_EQ_H, 10(%esi)
	jne scan_next
	cmpl $W_ELLO, 12(%esi)
	jne scan_next
	movzbl 16(%esi), %ecx           /* "hello" must end the word */
	cmpl $' ', %ecx
	je 1f
	testl %ecx, %ecx
	jnz scan_next
1:	movl $1, %ebp
	jmp scan_next
scan_exit:
	cmpl $W_EXIT, 6(%esi)
	jne scan_next
	cmpb $'=', 10(%esi)
	jne scan_next
	leal 11(%esi), %ecx
	xorl %edi, %edi
2:	movzbl (%ecx), %edx             /* decimal digits */
	subl $'0', %edx
	cmpl $9, %edx
	ja 3f
	imull $10, %edi, %edi
	addl %edx, %edi
	incl %ecx
	jmp 2b
3:	movl $'=', %eax                 /* what EDX holds next: not a space */
scan_next:
	movl %eax, %edx
	incl %esi
	jmp scan
scan_done:
	testl %ebp, %ebp
	jz setup

	/* probe.mode=hello: print and leave, still in 32-bit mode. */
	movl $hello_line, %esi
4:	movw $PORT_COM1 + 5, %dx        /* LSR: wait for THR empty */
5:	inb %dx, %al
	testb $0x20, %al
	jz 5b
	movw $PORT_COM1, %dx
	movb (%esi), %al
	outb %al, %dx
	incl %esi
	cmpb $0, (%esi)
	jne 4b
	movl %edi, %eax
	outl %eax, $PORT_DEBUG_EXIT
6:	cli
	hlt
	jmp 6b

setup:
	lgdt gdt_ptr
	ljmp $SEL_CODE32, $1f
1:	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl %ebx, boot_start_info
	movb $0xff, %al                 /* mask both 8259s, as Linux does */
	outb %al, $0x21
	outb %al, $0xa1
	xorl %edi, %edi                 /* CPU index 0 */
	jmp enter_long_mode

	.globl ap_entry32
ap_entry32:                             /* from trampoline.S, CS = SEL_CODE32 */
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movl ap_boot_index, %edi

enter_long_mode:                        /* EDI = CPU index */
	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx          /* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	andl $0x9fffffff, %eax          /* caches on (an AP starts with CD|NW) */
	orl $0x80000001, %eax           /* PG | PE */
	movl %eax, %cr0
	ljmp $SEL_CODE64, $long_mode

	.code64
long_mode:
	xorl %eax, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	/* RSP = top of this CPU's CPL0 stack. */
	leal 1(%edi), %eax
	shll $KSTACK_SHIFT, %eax
	addq $kstacks, %rax
	movq %rax, %rsp
	/* This CPU's TSS: RSP0 and the offset of the shared I/O bitmap. */
	movl %edi, %eax
	shll $7, %eax                   /* TSS_STRIDE */
	addl $tss_area, %eax
	movq %rsp, TSS_RSP0(%rax)
	movl $tss_iomap, %ecx
	subl %eax, %ecx
	movw %cx, TSS_IOMAP_BASE(%rax)
	addl $IOMAP_BYTES, %ecx         /* limit: the bitmap's 0xff end byte */
	/* Its 16-byte descriptor in the GDT. */
	movl %edi, %edx
	shll $4, %edx
	addl $gdt_tss, %edx
	movw %cx, (%rdx)
	movw %ax, 2(%rdx)
	shrl $16, %eax
	movb %al, 4(%rdx)
	movb $0x89, 5(%rdx)             /* present, 64-bit TSS (available) */
	movb $0, 6(%rdx)
	movb %ah, 7(%rdx)
	movq $0, 8(%rdx)
	movl %edi, %eax
	shll $4, %eax
	addl $SEL_TSS0, %eax
	ltr %ax
	lidt idt_ptr
	/* Drop to CPL3 on this CPU's user stack with interrupts enabled. */
	pushq $SEL_USER_DATA
	leal 1(%edi), %eax
	shll $USTACK_SHIFT, %eax
	addq $ustacks - 8, %rax         /* as if called: RSP+8 is 16-aligned */
	pushq %rax
	pushq $0x202                    /* IF */
	pushq $SEL_USER_CODE
	movq $ap_main, %rax
	testl %edi, %edi
	jnz 7f
	movq $bsp_user_start, %rax
7:	pushq %rax
	iretq

	.section .rodata
hello_line:
	.asciz "PROBE hello\r\n"

/* First CPL3 code on the BSP: clear .bss (fast here, unlike at CPL0),
 * then C.  The stacks live in .noinit, after .bss. */
	.text
	.globl bsp_user_start
bsp_user_start:
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	cld
	rep stosb
	call probe_main
8:	jmp 8b                          /* probe_main does not return */

	.section .note.GNU-stack, "", @progbits
