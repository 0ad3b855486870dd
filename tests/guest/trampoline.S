/* Real-mode start of an application processor.  smp.c copies these bytes
 * to a free page below 1 MiB and sends that page in the SIPI; the AP starts
 * here with CS = page >> 4, IP = 0.  Only CS-relative references, so the
 * code runs wherever it is copied. */
#include "probe-defs.h"

	.section .rodata
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	cli
	lgdtl %cs:(ap_gdt_ptr - ap_trampoline)
	movl %cr0, %eax
	andl $0x9fffffff, %eax          /* caches on */
	orl $1, %eax                    /* PE */
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $ap_entry32
	.balign 4
ap_gdt_ptr:
	.word gdt_limit
	.long gdt
ap_trampoline_end:
	.code64

	.section .note.GNU-stack, "", @progbits
