/* CPL0 interrupt entry: kept to a few plain instructions because CPL0 is
 * emulated on the nested KVM this runs on.  Interrupts only count
 * (irq_counts[vector], irq_total), acknowledge a virtio device's
 * level-triggered line, and EOI; the CPL3 code that waits for them does
 * the work.  Exceptions are redirected to fault_report() at
 * CPL3, which prints them and exits. */
#include "probe-defs.h"

	.text
	.code64

/* 256 stubs, 16 bytes apart (idt.c computes isr_stubs + 16 * vector):
 * each pushes a dummy error code where the CPU does not, then its vector. */
	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vector, 0
	.rept 256
	.balign 16
	.if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
	.else
	pushq $0
	.endif
	.if vector < 128
	pushq $vector
	.else
	.byte 0x68                      /* pushq imm32: keeps the vector positive */
	.long vector
	.endif
	jmp isr_common
	.set vector, vector + 1
	.endr

isr_common:                             /* stack: vector, error, RIP, CS, RFLAGS, RSP, SS */
	pushq %rax
	movq 8(%rsp), %rax
	cmpq $32, %rax
	jb exception
	lock incq irq_counts(, %rax, 8)
	lock incq irq_total
	cmpq $VEC_SPURIOUS, %rax        /* a spurious interrupt takes no EOI */
	je 1f
	/* A virtio device's line is level-triggered: acknowledge the device
	 * (which drops the line) before the EOI, or the interrupt would come
	 * straight back.  Its ISR bits are kept for the CPL3 driver. */
	subq $VEC_VIRTIO_FIRST, %rax
	cmpq $VIRTIO_IRQ_SLOTS, %rax
	jae 2f
	pushq %rcx
	movq virtio_irq_mmio(, %rax, 8), %rcx
	testq %rcx, %rcx
	jz 3f
	pushq %rdx
	movl VIRTIO_MMIO_ISR(%rcx), %edx
	movl %edx, VIRTIO_MMIO_ACK(%rcx)
	lock orl %edx, virtio_irq_isr(, %rax, 4)
	popq %rdx
3:	popq %rcx
2:	movl $LAPIC_BASE + LAPIC_EOI, %eax
	movl $0, (%rax)
1:	popq %rax
	addq $16, %rsp
	iretq

exception:
	/* A second fault while reporting one: give up at once. */
	cmpq $0, fault_record
	jne 2f
	movq %rax, fault_record         /* vector + 1 below, so it is never 0 */
	incq fault_record
	movq 16(%rsp), %rax
	movq %rax, fault_record + 8     /* error code */
	movq 24(%rsp), %rax
	movq %rax, fault_record + 16    /* RIP */
	movq 32(%rsp), %rax
	movq %rax, fault_record + 24    /* CS */
	movq 48(%rsp), %rax
	movq %rax, fault_record + 32    /* RSP */
	movq %cr2, %rax
	movq %rax, fault_record + 40
	/* Return to fault_report() at CPL3, interrupts off, on its own stack. */
	movq $fault_report, 24(%rsp)
	movq $SEL_USER_CODE, 32(%rsp)
	movq $0x2, 40(%rsp)
	movq $fault_stack_top - 8, 48(%rsp)
	movq $SEL_USER_DATA, 56(%rsp)
	popq %rax
	addq $16, %rsp
	iretq
2:	movl $PROBE_EXIT_FAULT, %eax
	outl %eax, $PORT_DEBUG_EXIT
3:	cli
	hlt
	jmp 3b

/* int1 from CPL3 (VEC_SYSCALL; an interrupt gate, so IF is clear here).
 * #DB from int1 is a trap: the saved RIP should follow the instruction.
 * The nested KVM this is tested on saves the address of the int1 itself,
 * which would run it again forever: step over it in that case. */
	.globl syscall_entry
syscall_entry:
	pushq %rcx
	movq 8(%rsp), %rcx
	cmpb $0xf1, (%rcx)              /* the int1 opcode */
	jne 5f
	incq 8(%rsp)
5:	popq %rcx
	cmpq $SYS_WAIT, %rax
	je sys_wait
	cmpq $SYS_HALT, %rax
	je sys_halt
	iretq
sys_wait:
	/* Sleep unless *RDI moved past RSI.  "sti; hlt" lets no interrupt in
	 * between the check and the halt, so no wake-up is lost. */
	cmpq (%rdi), %rsi
	jne 4f
	sti
	hlt
	cli
4:	iretq
sys_halt:
	cli
	hlt
	jmp sys_halt

/* Filled at CPL3 (virtio_mmio.c): the register page of the device behind
 * each virtio vector, and the ISR bits taken from it. */
	.bss
	.balign 8
	.globl virtio_irq_mmio, virtio_irq_isr, irq_total
virtio_irq_mmio:
	.space VIRTIO_IRQ_SLOTS * 8
virtio_irq_isr:
	.space VIRTIO_IRQ_SLOTS * 4
	.balign 8
irq_total:                              /* every interrupt, for waits on any */
	.space 8

	.section .noinit, "aw", @nobits
	.balign 16
	.space 16384
fault_stack_top:

	.section .note.GNU-stack, "", @progbits
