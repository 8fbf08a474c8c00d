package enclave

import "debug/elf"

const hostMachine = elf.EM_X86_64
