import { join } from 'node:path'

export interface WrkResult {
  connections: number
  durationS: number
  acks: number
  others: number
  acksPerS: number
  /** From wrk's latency distribution, ms. */
  p50: number
  p90: number
  p99: number
  /** CPU seconds wrk itself used, as a share of one core: the load generator must not be the bottleneck. */
  wrkCpuPercent: number
}

/** `5.90ms`, `1.20s`, `850.00us` → ms. */
function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (!m) return Number.NaN
  const value = Number(m[1])
  return m[2] === 'us' ? value / 1000 : m[2] === 'ms' ? value : m[2] === 's' ? value * 1000 : value * 60_000
}

export function wrkAvailable(): boolean {
  return Bun.which('wrk') !== null
}

/**
 * Runs wrk (one thread: the machine has two cores and the servers need them) with our skill.lua for
 * `durationS` at `connections`, and parses its latency distribution and the ack count the script prints.
 */
export async function runWrk(opts: {
  url: string
  connections: number
  durationS: number
  bodyFile: string
  sink: string
  tag: string
  users?: number
  /** Names this run's users (`<prefix>user-N`, `<prefix>new-…`); `wrk-` by default. */
  userPrefix?: string
}): Promise<WrkResult> {
  const proc = Bun.spawn(
    [
      'wrk',
      '-t1',
      `-c${opts.connections}`,
      `-d${opts.durationS}s`,
      '--latency',
      '--timeout',
      '10s',
      '-s',
      join(import.meta.dir, 'skill.lua'),
      opts.url,
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        BODY_FILE: opts.bodyFile,
        SINK: opts.sink,
        TAG: opts.tag,
        USERS: String(opts.users ?? 500),
        USER_PREFIX: opts.userPrefix ?? 'wrk-',
      },
      stdout: 'pipe',
      stderr: 'pipe',
    },
  )
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) throw new Error(`wrk failed (${code}): ${err.trim() || out.trim()}`)
  const pct = (p: string) => toMs(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '')
  const replies = /REPLIES acks=(\d+) others=(\d+)/.exec(out)
  const acks = Number(replies?.[1] ?? 0)
  const usage = proc.resourceUsage()
  const cpuS = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : Number.NaN
  return {
    connections: opts.connections,
    durationS: opts.durationS,
    acks,
    others: Number(replies?.[2] ?? 0),
    acksPerS: acks / opts.durationS,
    p50: pct('50'),
    p90: pct('90'),
    p99: pct('99'),
    wrkCpuPercent: (cpuS / opts.durationS) * 100,
  }
}
