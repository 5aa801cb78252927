/**
 * What kbot's launchers (`bun run kbot …`, `bun run start`, the Docker image) put in the Bun process's
 * environment, read by the runtime before any of kbot's code runs, so it cannot be set from here.
 *
 * `BUN_JSC_forceRAMSize`: JavaScriptCore sizes its heap from the machine's memory. On a host with 24 GiB,
 * `kbot serve` under sustained load (wrk, 16 and 64 connections) grew to 175–191 MB resident; told the
 * machine has 1 GiB it stayed at 129–148 MB with the same acks/s (README, "Production"). A sizing hint,
 * not a limit: a process told 64 MiB still grew to 600 MB when it needed to. The launchers keep a value the
 * operator set (`${BUN_JSC_forceRAMSize:-…}`).
 */
export const JSC_RAM_SIZE_HINT = String(1024 ** 3)

export const RUNTIME_ENV = { BUN_JSC_forceRAMSize: JSC_RAM_SIZE_HINT } as const
