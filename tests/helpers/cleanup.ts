import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * One registry for everything a test leaves outside its own process: child processes, private PostgreSQL
 * clusters, temporary directories. The preload (tests/helpers/preload.ts) releases all of them after every test
 * file (`afterAll` runs even when a test failed or timed out) and, synchronously, when the test process exits or
 * is interrupted (Ctrl-C, SIGTERM), so a run that is cut short leaves nothing behind.
 */
export interface Resource {
  kind: 'process' | 'cluster' | 'dir'
  label: string
  /** Orderly release (may wait, e.g. for a process to exit). */
  release(): Promise<void> | void
  /** Last-resort release from an exit handler: synchronous, never throws. */
  releaseSync(): void
}

const resources = new Set<Resource>()

/** Registers a resource; the returned function releases it now (and forgets it). */
export function register(resource: Resource): () => Promise<void> {
  resources.add(resource)
  return async () => {
    if (!resources.delete(resource)) return
    await resource.release()
  }
}

/** Forgets a resource that was released by other means. */
export function forget(resource: Resource): void {
  resources.delete(resource)
}

/** A temporary directory under the system's tmp, removed after the test file (or at exit). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kbot-${prefix}-`))
  registerDir(dir)
  return dir
}

/** Registers an existing directory for removal. */
export function registerDir(dir: string): () => Promise<void> {
  const remove = () => rmSync(dir, { recursive: true, force: true })
  return register({
    kind: 'dir',
    label: dir,
    release: remove,
    releaseSync: () => {
      try {
        remove()
      } catch {
        // best effort at exit
      }
    },
  })
}

/** A spawned process, killed (SIGKILL) unless it exited already. */
export function registerProcess(
  proc: {
    pid: number
    exitCode: number | null
    kill(signal?: number | NodeJS.Signals): void
    exited: Promise<number>
  },
  label: string,
): () => Promise<void> {
  return register({
    kind: 'process',
    label: `${label} (pid ${proc.pid})`,
    async release() {
      if (proc.exitCode === null) {
        try {
          proc.kill('SIGKILL')
        } catch {
          // already gone
        }
      }
      await proc.exited
    },
    releaseSync() {
      if (proc.exitCode !== null) return
      try {
        process.kill(proc.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    },
  })
}

/** Releases everything registered, processes first (they may hold a cluster's connections), then the rest. */
export async function releaseAll(): Promise<void> {
  const order: Resource['kind'][] = ['process', 'cluster', 'dir']
  for (const kind of order) {
    const batch = [...resources].filter((r) => r.kind === kind)
    for (const r of batch) resources.delete(r)
    const results = await Promise.allSettled(batch.map(async (r) => r.release()))
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') {
        // Still try the synchronous path; report, but never let cleanup fail the run.
        batch[i]!.releaseSync()
        console.warn(`cleanup of ${batch[i]!.label} failed: ${(result.reason as Error)?.message}`)
      }
    }
  }
}

/** Synchronous release for exit handlers. */
export function releaseAllSync(): void {
  for (const kind of ['process', 'cluster', 'dir'] as const) {
    for (const r of [...resources]) {
      if (r.kind !== kind) continue
      resources.delete(r)
      r.releaseSync()
    }
  }
}

/** What is still registered (for tests of the registry itself and for diagnostics). */
export function pending(): { kind: Resource['kind']; label: string }[] {
  return [...resources].map((r) => ({ kind: r.kind, label: r.label }))
}

let installed = false

/** Exit and signal handlers: a run cut short (Ctrl-C, SIGTERM, process.exit) still releases everything. */
export function installExitHandlers(): void {
  if (installed) return
  installed = true
  process.on('exit', releaseAllSync)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      releaseAllSync()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
}
