/**
 * `bun run mutate [module…]`: Stryker once per module (queue, delivery, tasks, turn, ack), each with the test files
 * that cover it. Extra Stryker flags after `--` are passed on (e.g. `-- --mutate src/store/tasks.ts:150-220`).
 */
const STRYKER = 'node_modules/@stryker-mutator/core/bin/stryker.js'
const ALL = ['tasks', 'delivery', 'turn', 'queue', 'ack']
const argv = process.argv.slice(2)
const dash = argv.indexOf('--')
const modules = (dash >= 0 ? argv.slice(0, dash) : argv).filter(Boolean)
const extra = dash >= 0 ? argv.slice(dash + 1) : []
let failed = 0
for (const name of modules.length > 0 ? modules : ALL) {
  console.log(`\n=== mutation testing: ${name} ===`)
  // Under Bun: StrykerJS 10 refuses Node.js before 22, and this machine's Node.js may be older.
  const proc = Bun.spawn(['bun', '--bun', STRYKER, 'run', 'stryker.config.mjs', ...extra], {
    env: { ...process.env, KBOT_MUTATE: name },
    stdio: ['inherit', 'inherit', 'inherit'],
  })
  if ((await proc.exited) !== 0) failed++
}
process.exit(failed > 0 ? 1 : 0)
