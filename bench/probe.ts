import { readdirSync, readFileSync } from 'node:fs'
import type postgres from 'postgres'
import { round } from './stats.ts'

/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICK_S = 0.01

/** utime + stime of a process, in seconds; 0 once it is gone. */
function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may itself contain spaces: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_S
  } catch {
    return 0
  }
}

/** CPU seconds of every process named postgres (server and backends). */
function postgresCpu(): number {
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        total += processCpu(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return total
}

/**
 * Busy, stolen (taken by the hypervisor for other guests) and total CPU seconds of the whole machine, from
 * /proc/stat: user nice system idle iowait irq softirq steal.
 */
function machineCpu(): { busy: number; steal: number; total: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)
  const n = ticks.slice(0, 8).map(Number)
  const idle = n[3]! + n[4]!
  const total = n.reduce((a, b) => a + b, 0)
  return { busy: (total - idle) * TICK_S, steal: n[7]! * TICK_S, total: total * TICK_S }
}

interface Snapshot {
  at: number
  kbot: number
  bench: number
  postgres: number
  machine: { busy: number; steal: number; total: number }
  db: { commits: number; walSyncs: number; walBytes: number }
}

async function snapshot(sql: postgres.Sql, kbotPids: readonly number[]): Promise<Snapshot> {
  const [db] = await sql<{ commits: number; walSyncs: number; walBytes: number }[]>`
    select (select xact_commit from pg_stat_database where datname = current_database())::float8 as "commits",
           wal_sync::float8 as "walSyncs", wal_bytes::float8 as "walBytes"
      from pg_stat_wal`
  const usage = process.cpuUsage()
  return {
    at: performance.now(),
    kbot: kbotPids.reduce((sum, pid) => sum + processCpu(pid), 0),
    bench: (usage.user + usage.system) / 1e6,
    postgres: postgresCpu(),
    machine: machineCpu(),
    db: db!,
  }
}

/**
 * Where the time went during a measured window: CPU of kbot, PostgreSQL, this bench and the whole machine (in %
 * of one core), and, per request, PostgreSQL commits and WAL flushes (each synchronous commit waits for one).
 * The database counters are cluster-wide and flushed by PostgreSQL about once a second: approximate.
 */
export async function startProbe(sql: postgres.Sql, kbotPids: readonly number[]) {
  const before = await snapshot(sql, kbotPids)
  return {
    async stop(requests: number) {
      const after = await snapshot(sql, kbotPids)
      const seconds = (after.at - before.at) / 1000
      const pct = (a: number, b: number) => round(((a - b) / seconds) * 100)
      const per = (a: number, b: number) => round((a - b) / Math.max(1, requests))
      return {
        cpuPercentOfOneCore: {
          kbot: pct(after.kbot, before.kbot),
          postgres: pct(after.postgres, before.postgres),
          bench: pct(after.bench, before.bench),
          machine: pct(after.machine.busy, before.machine.busy),
          stolen: pct(after.machine.steal, before.machine.steal),
          machineCapacity: pct(after.machine.total, before.machine.total),
        },
        perRequest: {
          commits: per(after.db.commits, before.db.commits),
          walFlushes: per(after.db.walSyncs, before.db.walSyncs),
          walBytes: per(after.db.walBytes, before.db.walBytes),
        },
      }
    },
  }
}
